"""ARXClient against a real dev runtime: autonomous, held, denied, forbidden and resumed actions."""

from __future__ import annotations

import asyncio
import re

import pytest
from conftest import join_ok, okta_user
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from arx import ActionDenied, ARXClient, ArxError, SyncARXClient, continued_context


def test_async_client_runs_an_autonomous_read(dev, admin):
    agent = admin.register()

    async def go():
        async with ARXClient(base_url=dev["apiUrl"], bootstrap_token=agent["bootstrap_token"], agent_id=agent["agent_id"], org_id=dev["tenantId"]) as arx:
            return await arx.execute(connector="okta", operation="users:read", params={"filter": 'status eq "ACTIVE"'}, correlation_id="corr-py-1")

    r = asyncio.run(go())
    assert r.status == "executed"
    assert r.decision["effect"] == "permit" and r.decision["risk"] == "low"
    assert r.approval_metadata is None
    assert r.correlation_id == "corr-py-1"
    assert {u["id"] for u in r.result["body"]} >= {"00u1alice", "00u3john"}
    assert re.fullmatch(r"[0-9a-f]{32}", r.trace_id)


def test_sync_client_reads_environment_and_waits_through_an_approval(dev, admin, okta, monkeypatch):
    agent = admin.register()
    monkeypatch.setenv("ARX_URL", dev["apiUrl"])
    monkeypatch.setenv("ARX_BOOTSTRAP_TOKEN", agent["bootstrap_token"])
    approver = admin.decide_when_pending(agent["agent_id"], "approve", "Verified with HRIS")
    pending = []
    with SyncARXClient(agent_id=agent["agent_id"], poll_wait=2) as arx:
        r = arx.execute(connector="okta", operation="users:suspend", params={"user_id": "00u2bob"}, reason="left the company", on_pending=pending.append)
    join_ok(approver)
    assert len(pending) == 1 and pending[0].approval_id
    assert r.status == "executed" and r.decision["approval"] == "hitl"
    assert r.approval_metadata["approval_id"] == pending[0].approval_id
    assert r.approval_metadata["approver"] == "manager@example.com"
    assert r.approval_metadata["reason"] == "Verified with HRIS"
    assert okta_user(okta, "00u2bob")["status"] == "SUSPENDED"


def test_an_approver_denial_raises_action_denied_and_nothing_runs(dev, admin, okta):
    agent = admin.register()
    approver = admin.decide_when_pending(agent["agent_id"], "deny", "not this one")
    with SyncARXClient(base_url=dev["apiUrl"], bootstrap_token=agent["bootstrap_token"], poll_wait=2) as arx:
        with pytest.raises(ActionDenied) as e:
            arx.execute(connector="okta", operation="users:reset_password", params={"user_id": "00u1alice"})
    join_ok(approver)
    assert e.value.by == "approver"
    assert e.value.decision["risk"] == "high"
    assert okta_user(okta, "00u1alice")["status"] == "ACTIVE"


def test_an_operation_the_policy_does_not_name_is_forbidden(dev, admin):
    agent = admin.register()
    with SyncARXClient(base_url=dev["apiUrl"], bootstrap_token=agent["bootstrap_token"]) as arx:
        with pytest.raises(ActionDenied) as e:
            arx.execute(connector="okta", operation="users:list", params={})
    assert e.value.by == "policy"
    assert e.value.decision["effect"] == "forbid"
    assert e.value.action_id.startswith("act_")


def test_a_restarted_agent_resumes_waiting_by_action_id(dev, admin):
    agent = admin.register()
    held = {}
    with SyncARXClient(base_url=dev["apiUrl"], bootstrap_token=agent["bootstrap_token"], poll_wait=1) as first:
        with pytest.raises(ArxError, match="resume with wait_for"):
            first.execute(connector="okta", operation="users:reset_password", params={"user_id": "00u2bob"}, timeout=1, on_pending=lambda p: held.update(id=p.action_id))
        token = first.token()
    assert held["id"]
    # The "restarted" process has only the SVID it kept (the bootstrap token is single use).
    with SyncARXClient(base_url=dev["apiUrl"], token=token, poll_wait=2) as second:
        assert second.get_action(held["id"])["status"] == "pending_approval"
        approver = admin.decide_when_pending(agent["agent_id"], "approve", "user asked for a reset", match=lambda a: a["action_id"] == held["id"])
        r = second.wait_for(held["id"], timeout=60)
    join_ok(approver)
    assert r.action_id == held["id"] and r.status == "executed"
    assert r.approval_metadata["reason"] == "user asked for a reset"


def test_the_current_opentelemetry_span_is_continued_and_arx_span_returned(dev, admin):
    agent = admin.register()
    parent = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, is_remote=False, trace_flags=TraceFlags(1))
    with SyncARXClient(base_url=dev["apiUrl"], bootstrap_token=agent["bootstrap_token"]) as arx:
        with trace.use_span(NonRecordingSpan(parent)):
            r = arx.execute(connector="okta", operation="users:read", params={"user_id": "00u1alice"})
    assert r.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert r.traceparent and r.traceparent.split("-")[1] == r.trace_id
    ctx = continued_context(r.traceparent)
    child = trace.get_current_span(ctx).get_span_context()
    assert f"{child.trace_id:032x}" == r.trace_id and child.is_remote


def test_a_used_bootstrap_token_is_refused_with_the_oauth_error(dev, admin):
    agent = admin.register()
    with SyncARXClient(base_url=dev["apiUrl"], bootstrap_token=agent["bootstrap_token"]) as a:
        a.token()
    with SyncARXClient(base_url=dev["apiUrl"], bootstrap_token=agent["bootstrap_token"]) as b:
        with pytest.raises(ArxError, match="invalid_grant") as e:
            b.token()
    assert e.value.status == 400


def test_a_token_for_another_agent_is_refused_before_any_action(dev, admin):
    agent = admin.register()
    with pytest.raises(ArxError, match="not agent"):
        SyncARXClient(base_url=dev["apiUrl"], bootstrap_token=agent["bootstrap_token"], agent_id="01SOMEONEELSE00000000000000").token()
