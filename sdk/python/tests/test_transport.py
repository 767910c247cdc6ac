"""The SDK's wire behaviour, driven through httpx's transport hook (no ARX needed):
retries with one idempotency key, the authorizer-failure answer, outcome mapping, identity checks."""

from __future__ import annotations

import asyncio
import base64
import json
from urllib.parse import parse_qs

import httpx
import pytest

from arx import ActionFailed, ApprovalExpired, ARXClient, ArxError, SyncARXClient


def svid(sub: str = "spiffe://acme.arx/langchain/01AGENT", exp: int = 4_102_444_800) -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return f"{enc({'alg': 'ES256'})}.{enc({'sub': sub, 'exp': exp})}.sig"


def client(handler, cls=SyncARXClient, **kw):
    transport = httpx.MockTransport(handler)
    http = httpx.Client(transport=transport) if cls is SyncARXClient else httpx.AsyncClient(transport=transport)
    return cls(base_url="http://arx.test", http=http, backoff_base=0.001, **kw)


EXECUTED = {"action_id": "act_1", "status": "executed", "result": {"ok": True}, "correlation_id": "c", "trace_id": "t" * 32, "decision": {"effect": "permit"}}


def test_retries_overload_and_authorizer_failures_with_one_idempotency_key():
    seen = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.headers.get("idempotency-key"))
        if len(seen) == 1:
            return httpx.Response(429, headers={"retry-after": "0"}, json={"title": "Too Many Requests"})
        if len(seen) == 2:
            return httpx.Response(500, json={"message": "Internal Server Error"})  # an HTTP API whose authorizer failed
        if len(seen) == 3:
            raise httpx.ConnectError("reset")
        return httpx.Response(200, json=EXECUTED)

    r = client(handler, token=svid()).execute(connector="okta", operation="users:read", params={})
    assert r.result == {"ok": True}
    assert len(seen) == 4 and len(set(seen)) == 1 and seen[0]


def test_gives_up_after_the_bounded_retries():
    calls = []
    with pytest.raises(ArxError) as e:
        client(lambda req: calls.append(1) or httpx.Response(503, json={"title": "busy"}), token=svid(), max_retries=2).execute(connector="x", operation="y")
    assert e.value.status == 503 and len(calls) == 3


def test_a_failed_connector_is_an_outcome_not_a_retry():
    calls = []
    failed = {**EXECUTED, "status": "failed", "error": {"code": "okta_500", "message": "Okta answered 500", "retryable": True}}
    with pytest.raises(ActionFailed) as e:
        client(lambda req: calls.append(1) or httpx.Response(502, json=failed), token=svid()).execute(connector="okta", operation="users:read")
    assert len(calls) == 1 and e.value.code == "okta_500" and e.value.retryable


def test_an_expired_approval_raises_approval_expired_with_the_decision():
    def handler(req: httpx.Request) -> httpx.Response:
        if req.method == "POST":
            return httpx.Response(202, json={"action_id": "act_2", "status": "pending_approval", "approval_id": "apr_2", "expires_at": "2026-12-01T00:00:00Z"})
        assert req.url.params["wait"]
        return httpx.Response(200, json={"action_id": "act_2", "status": "expired", "decision": {"effect": "permit", "approval": "hitl"}})

    async def go():
        return await client(handler, cls=ARXClient, token=svid()).execute(connector="okta", operation="users:deactivate", params={"user_id": "u"})

    with pytest.raises(ApprovalExpired) as e:
        asyncio.run(go())
    assert e.value.approval_id == "apr_2" and e.value.decision["approval"] == "hitl"


def test_exchanges_the_bootstrap_token_per_rfc_8693_and_refreshes_once_on_401():
    forms, auths = [], []

    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/v1/identity/token":
            forms.append({k: v[0] for k, v in parse_qs(req.content.decode()).items()})
            rt = f"arxrt_{len(forms)}"
            return httpx.Response(200, json={"access_token": svid(), "expires_in": 900, "issued_token_type": "urn:ietf:params:oauth:token-type:jwt", "token_type": "N_A", "refresh_token": rt})
        auths.append(req.headers["authorization"])
        return httpx.Response(401 if len(auths) == 1 else 200, json=EXECUTED)

    c = client(handler, bootstrap_token="arxb_x", agent_id="01AGENT", org_id="acme")
    r = c.execute(connector="okta", operation="users:read")
    assert r.action_id == "act_1"
    assert forms[0] == {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": "arxb_x",
        "subject_token_type": "urn:arx:params:oauth:token-type:bootstrap",
        "audience": "arx",
    }
    # The 401 renews with the refresh token the exchange answered: the bootstrap token is sent once.
    assert forms[1] == {"grant_type": "refresh_token", "refresh_token": "arxrt_1"}
    assert len(forms) == 2 and len(auths) == 2
    assert c._s.refresh_token == "arxrt_2" and "arxrt_2" not in repr(c._s)


def test_without_a_refresh_token_a_spent_bootstrap_token_is_not_sent_again():
    forms = []

    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/v1/identity/token":
            forms.append(req.content.decode())
            return httpx.Response(200, json={"access_token": svid(), "expires_in": 900, "issued_token_type": "urn:ietf:params:oauth:token-type:jwt", "token_type": "N_A"})
        return httpx.Response(401, json={"title": "Unauthorized"})

    with pytest.raises(ArxError, match="401"):
        client(handler, bootstrap_token="arxb_x", agent_id="01AGENT", org_id="acme").execute(connector="okta", operation="users:read")
    assert len(forms) == 1


def test_a_token_of_another_organisation_is_refused():
    with pytest.raises(ArxError, match="not organisation globex"):
        SyncARXClient(base_url="http://arx.test", token=svid(), org_id="globex")


def test_needs_a_url_and_a_credential(monkeypatch):
    for k in ("ARX_URL", "ARX_BOOTSTRAP_TOKEN", "ARX_AGENT_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(ArxError, match="ARX_URL"):
        SyncARXClient(token=svid())
    with pytest.raises(ArxError, match="ARX_BOOTSTRAP_TOKEN"):
        SyncARXClient(base_url="http://arx.test")


def test_a_validation_error_is_reported_with_its_problem_detail():
    problem = {"type": "about:blank", "title": "Bad Request", "status": 400, "detail": "params: unknown field"}
    with pytest.raises(ArxError, match="400 Bad Request — params: unknown field") as e:
        client(lambda req: httpx.Response(400, json=problem), token=svid()).execute(connector="okta", operation="users:read", params={"x": 1})
    assert e.value.body == problem
