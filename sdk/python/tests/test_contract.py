"""The wire contract shared with the TypeScript SDK (sdk/contract/actions.json), replayed case by case."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

import arx
from arx import SyncARXClient

CASES = json.loads((Path(__file__).resolve().parents[2] / "contract" / "actions.json").read_text())["cases"]


def _svid() -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return f"{enc({'alg': 'ES256'})}.{enc({'sub': 'spiffe://acme.arx/langchain/01A', 'exp': 4102444800})}.sig"


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_contract_case(case):
    exchanges = list(case["exchanges"])
    previous_key = [None]

    def handler(req: httpx.Request) -> httpx.Response:
        assert exchanges, f"unexpected extra request {req.method} {req.url.path}"
        ex = exchanges.pop(0)
        assert (req.method, req.url.path) == (ex["request"]["method"], ex["request"]["path"])
        key = req.headers.get("idempotency-key")
        if ex["request"].get("same_idempotency_key_as_previous"):
            assert key, "a retry carries an Idempotency-Key"
            assert key == previous_key[0]
        previous_key[0] = key
        r = ex["response"]
        return httpx.Response(r["status"], json=r["body"], headers=r.get("headers", {}))

    pending = []
    client = SyncARXClient(base_url="http://arx.test", token=_svid(), http=httpx.Client(transport=httpx.MockTransport(handler)), poll_wait=1)
    want = case["expect"]
    call = lambda: client.execute(connector="okta", operation="users:read", params={}, on_pending=pending.append)
    if "outcome" in want:
        r = call()
        assert r.status == want["outcome"]
        for k in ("action_id", "correlation_id", "trace_id", "result", "approval_metadata"):
            if k in want:
                assert getattr(r, k) == want[k], k
    else:
        with pytest.raises(getattr(arx, want["error"])) as e:
            call()
        err = e.value
        for k in ("by", "action_id", "approval_id", "code", "retryable", "status"):
            if k in want:
                assert getattr(err, k) == want[k], k
        if "decision_effect" in want:
            assert err.decision["effect"] == want["decision_effect"]
        if "message_contains" in want:
            assert want["message_contains"] in str(err)
    if "pending" in want:
        assert [p.__dict__ for p in pending] == [want["pending"]]
    assert not exchanges, "not every exchange was used"
