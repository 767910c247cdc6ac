"""govern_tool and the LangChain wrapper, with the real langchain-core, against the dev runtime."""

from __future__ import annotations

import asyncio

import pytest
from conftest import join_ok, okta_user
from langchain_core.tools import StructuredTool, tool

from arx import ActionDenied, ARXClient, SyncARXClient, govern_tool
from arx.langchain import governed


def test_govern_tool_runs_the_function_only_after_arx_executed(dev, admin):
    agent = admin.register()
    arx = SyncARXClient(base_url=dev["apiUrl"], bootstrap_token=agent["bootstrap_token"])
    calls = []

    @govern_tool(arx, connector="okta", operation="users:read")
    def read_user(user_id: str, action) -> str:
        calls.append(user_id)
        return f"{action.result['body']['profile']['login']} ({action.decision['risk']})"

    @govern_tool(arx, connector="okta", operation="users:list")
    def list_users(action) -> int:
        calls.append("list")
        return len(action.result["body"])

    assert read_user(user_id="00u1alice") == "alice@acme.com (low)"
    with pytest.raises(ActionDenied):
        list_users()
    assert calls == ["00u1alice"]
    arx.close()


def test_async_govern_tool_waits_through_an_approval(dev, admin, okta):
    agent = admin.register()
    approver = admin.decide_when_pending(agent["agent_id"], "approve", "ticket IT-42")

    async def go():
        async with ARXClient(base_url=dev["apiUrl"], bootstrap_token=agent["bootstrap_token"], poll_wait=2) as arx:

            @govern_tool(arx, connector="okta", operation="users:suspend", reason=lambda user_id: f"suspend {user_id}")
            async def suspend(user_id: str, action) -> dict:
                return action.approval_metadata

            return await suspend(user_id="00u1alice")

    meta = asyncio.run(go())
    join_ok(approver)
    assert meta["reason"] == "ticket IT-42"
    assert okta_user(okta, "00u1alice")["status"] == "SUSPENDED"


def test_a_langchain_tool_becomes_a_governed_tool(dev, admin):
    agent = admin.register()

    @tool
    def okta_read_user(user_id: str) -> str:
        """Read one Okta user by id."""
        raise AssertionError("never called without ARX's result")

    @tool
    def okta_list_users() -> str:
        """List Okta users."""
        return "ungoverned"

    async def go():
        async with ARXClient(base_url=dev["apiUrl"], bootstrap_token=agent["bootstrap_token"]) as arx:
            read = governed(okta_read_user, arx, connector="okta", operation="users:read")
            listing = governed(okta_list_users, arx, connector="okta", operation="users:list")
            assert isinstance(read, StructuredTool)
            assert read.name == "okta_read_user" and "Read one Okta user" in read.description
            assert set(read.args) == {"user_id"}
            got = await read.ainvoke({"user_id": "00u3john"})
            refused = await listing.ainvoke({})
            return got, refused

    got, refused = asyncio.run(go())
    assert got["body"]["profile"]["login"] == "john@acme.com"
    assert refused.startswith("ARX: policy forbids")


def test_a_langchain_tool_receives_arx_result_when_it_asks_for_it(dev, admin):
    agent = admin.register()

    def summarise(user_id: str, arx_result) -> str:
        return f"{user_id}: {arx_result.result['body']['status']} via {arx_result.action_id[:4]}"

    base = StructuredTool.from_function(func=summarise, name="okta_user_status", description="Status of an Okta user.")
    with SyncARXClient(base_url=dev["apiUrl"], bootstrap_token=agent["bootstrap_token"]) as arx:
        governed_tool = governed(base, arx, connector="okta", operation="users:read")
        out = governed_tool.invoke({"user_id": "00u2bob"})
    assert out.startswith("00u2bob: ") and out.endswith("via act_")
