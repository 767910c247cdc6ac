"""examples/python/access_review.py runs the brief's access review end to end against the dev runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import REPO, join_ok, okta_calls, okta_user


def test_the_brief_access_review_reads_autonomously_and_deactivates_after_approval(dev, admin, okta):
    agent = admin.register("access-reviewer")
    env = {
        **os.environ,
        "ARX_URL": dev["apiUrl"],
        "ARX_BOOTSTRAP_TOKEN": agent["bootstrap_token"],
        "ARX_AGENT_ID": agent["agent_id"],
        "ARX_ORG_ID": dev["tenantId"],
    }
    # john's last login is 142 days ago: the only risky user, unless an earlier test changed him.
    deactivate = "POST /api/v1/users/00u3john/lifecycle/deactivate"
    before = okta_calls(okta).count(deactivate)
    approver = admin.decide_when_pending(agent["agent_id"], "approve", "Verified with HRIS", match=lambda a: a["params"].get("user_id") == "00u3john", timeout=120)
    out = subprocess.run([sys.executable, "examples/python/access_review.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    join_ok(approver)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(l.startswith("okta:users:read → ") and "autonomous" in l for l in lines), out.stdout
    assert any("held for approval apr_" in l for l in lines), out.stdout
    summary = json.loads(next(l for l in lines if l.startswith("SUMMARY "))[len("SUMMARY "):])
    [done] = summary["deactivated"]
    assert done["user_id"] == "00u3john"
    assert done["approval"]["approver"] == "manager@example.com"
    assert done["approval"]["reason"] == "Verified with HRIS"
    assert okta_user(okta, "00u3john")["status"] == "DEPROVISIONED"
    # Executed once: Okta received exactly one deactivation of john from the run.
    assert okta_calls(okta).count(deactivate) - before == 1
