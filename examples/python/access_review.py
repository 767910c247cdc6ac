"""The integration brief's automated access review, in Python, against ARX.

Changed from the brief's sample only where the API requires it (each marked ``# API:``):
- ``ARXClient(agent_id=…, org_id=…)``: ARX agent ids are the ULIDs registration returns, and the
  org id is the ARX tenant; the SVID the client obtains must belong to that agent and tenant.
- The Okta filter uses Okta's own syntax (``status eq "ACTIVE"``), and the user list comes back as
  the connector's ``{"status", "body"}`` result.
- NOMA's client is not part of ARX; its calls are shown as comments. The trace and correlation id
  the brief links to NOMA are printed instead.

Run it against ``npm run dev``:

    npm run dev                                   # terminal 1: the control plane
    npx tsx local/okta-server.ts                  # terminal 2: the demo's local Okta (prints url, api_token)
    OKTA_URL=… OKTA_API_TOKEN=… python examples/python/access_review.py   # terminal 3

With only those variables it sets up the demo as the dev admin (connector, the brief's policy, a
registered agent) from ``.arx/dev.json``. Set ``ARX_URL``, ``ARX_BOOTSTRAP_TOKEN``, ``ARX_AGENT_ID``
and ``ARX_ORG_ID`` to run it as an already registered agent. The deactivation waits for a human:
approve it with ``npx tsx cli/arx.ts approvals approve <approval_id> --reason …`` (the id is printed).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sdk" / "python" / "src"))  # run from a checkout

from arx import ARXClient, Pending  # noqa: E402

POLICY = """
- name: okta-access-review
  connector: okta
  operations:
    "users:read*": low
    "groups:read*": low
    "users:create": medium
    "users:update": medium
    "users:deactivate": high
    "users:suspend": high
    "users:reset_password": high
  risk_max: high
  approval: { low: none, medium: auto, high: hitl, critical: hitl }
  hitl_channel: "#access-reviews"
  hitl_timeout: 1h
"""


def setup_as_dev_admin() -> None:
    """Configures the okta connector, pushes the brief's policy and registers the agent (dev only)."""
    dev = json.loads(Path(os.environ.get("ARX_DEV_FILE", ".arx/dev.json")).read_text())
    admin = {"authorization": f"Bearer {dev['tokens']['admin']}"}
    with httpx.Client(base_url=dev["apiUrl"], headers=admin, timeout=30) as h:
        h.put("/v1/connectors/okta", json={"config": {"base_url": os.environ["OKTA_URL"]}, "secret": {"api_token": os.environ["OKTA_API_TOKEN"]}}).raise_for_status()
        bundle = h.post("/v1/policies/bundles", json={"format": "yaml", "document": POLICY}).raise_for_status().json()
        h.post(f"/v1/policies/bundles/{bundle['bundle_id']}/promote").raise_for_status()
        agent = h.post(
            "/v1/identity/agents",
            json={"platform": "langchain", "platform_native_id": f"access-reviewer-{uuid.uuid4().hex[:8]}", "name": "access-reviewer", "owner": {"oidc_sub": "it-ops-lead", "email": "it-ops-lead@example.com"}},
        ).raise_for_status().json()
    os.environ.update(ARX_URL=dev["apiUrl"], ARX_BOOTSTRAP_TOKEN=agent["bootstrap_token"], ARX_AGENT_ID=agent["agent_id"], ARX_ORG_ID=dev["tenantId"])


def is_risky(user: dict) -> bool:
    """No login for 90 days."""
    last = user.get("lastLogin")
    return bool(last) and (datetime.now(timezone.utc) - datetime.fromisoformat(last.replace("Z", "+00:00"))).days > 90


arx: ARXClient  # created in main() once the environment names the agent


async def audit_user_access() -> dict:
    correlation_id = str(uuid.uuid4())
    # noma: trace_id = noma.start_trace("audit_user_access")

    # Policy evaluation happens transparently.
    # API: Okta filter syntax; the connector returns {"status", "body"}.
    users = await arx.execute(connector="okta", operation="users:read", params={"filter": 'status eq "ACTIVE"'}, correlation_id=correlation_id)
    print(f"okta:users:read → {len(users.result['body'])} active users (risk {users.decision['risk']}, autonomous)", flush=True)

    summary: dict = {"correlation_id": correlation_id, "trace_id": users.trace_id, "deactivated": []}
    for user in users.result["body"]:
        if is_risky(user):
            # This call will pause for approval.
            result = await arx.execute(
                connector="okta",
                operation="users:deactivate",
                params={"user_id": user["id"]},
                correlation_id=correlation_id,  # same trace
                reason=f"{user['profile']['login']}: no login since {user['lastLogin']}",
                on_pending=lambda p: print(f"okta:users:deactivate {user['profile']['login']} → held for approval {p.approval_id} (decide by {p.expires_at})", flush=True),
            )
            # noma.log_checkpoint(trace_id=trace_id, name="user_deactivated", metadata={
            #     "user_id": user.id, "correlation_id": correlation_id, "approval": result.approval_metadata})
            print(f"executed after approval: {json.dumps(result.approval_metadata)}", flush=True)
            summary["deactivated"].append({"user_id": user["id"], "action_id": result.action_id, "approval": result.approval_metadata})
    # noma.end_trace(trace_id)
    return summary


async def main() -> None:
    global arx
    if not os.environ.get("ARX_BOOTSTRAP_TOKEN") and not os.environ.get("ARX_AGENT_TOKEN"):
        setup_as_dev_admin()
    # API: agent_id / org_id are the registered agent's ULID and the ARX tenant.
    arx = ARXClient(agent_id=os.environ.get("ARX_AGENT_ID"), org_id=os.environ.get("ARX_ORG_ID"))
    async with arx:
        summary = await audit_user_access()
    print("SUMMARY " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
