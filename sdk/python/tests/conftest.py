"""Fixtures: a real dev runtime (`local/dev.ts` on moto), the demo's local Okta, the brief's policy.

The tests talk to ARX over HTTP exactly as an agent would; nothing on the ARX side is faked.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator, Optional

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]
TSX = REPO / "node_modules" / ".bin" / "tsx"

def _brief_policy() -> str:
    """The brief's access-review policy, as the example ships it (one copy)."""
    spec = importlib.util.spec_from_file_location("access_review_example", REPO / "examples" / "python" / "access_review.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # defines the policy and functions; main() runs only as a script
    return mod.POLICY


ACCESS_REVIEW_POLICY = _brief_policy()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@contextlib.contextmanager
def _dev_runtime(extra_env: Optional[dict] = None) -> Iterator[dict]:
    """`npm run dev` (local/dev.ts) on a free port with its own state dir and moto_server."""
    if not TSX.exists():
        pytest.fail(f"{TSX} is missing: run `npm ci` first")
    state = tempfile.mkdtemp(prefix="arx-py-dev-")
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    env.update(ARX_PORT=str(_free_port()), ARX_STATE_DIR=state, **(extra_env or {}))
    log = open(Path(state) / "dev.log", "w+")
    proc = subprocess.Popen(["node", "--import", "tsx", "local/dev.ts"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    dev_file = Path(state) / "dev.json"
    deadline = time.monotonic() + 180
    try:
        while not dev_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"the dev runtime did not start:\n{log.read()[-4000:]}")
            time.sleep(0.25)
        time.sleep(0.2)  # the file is written in one call; let the writer close it
        info = json.loads(dev_file.read_text())
        info["file"] = str(dev_file)
        yield info
    finally:
        _stop(proc)
        log.close()


@pytest.fixture(scope="session")
def dev() -> Iterator[dict]:
    """The dev runtime every test shares."""
    with _dev_runtime() as info:
        yield info


@pytest.fixture(scope="module")
def short_svid_dev() -> Iterator[dict]:
    """A second dev runtime whose SVIDs live SHORT_SVID_S seconds (ARX_SVID_TTL_SECONDS), for renewal tests."""
    with _dev_runtime({"ARX_SVID_TTL_SECONDS": str(SHORT_SVID_S)}) as info:
        yield info


SHORT_SVID_S = 3


@pytest.fixture(scope="session")
def okta() -> Iterator[dict]:
    """The demo's local Okta (local/okta-server.ts): `{url, api_token}`."""
    proc = subprocess.Popen([str(TSX), "local/okta-server.ts"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("{"):
            pytest.fail(f"the local Okta did not start: {line}")
        info = json.loads(line)
        yield info
    finally:
        _stop(proc)


def okta_calls(okta: dict) -> list[str]:
    """The calls the local Okta received (`METHOD /path`), from its `/_arx/calls` (local/demo.ts)."""
    r = httpx.get(f"{okta['url']}/_arx/calls", headers={"authorization": f"SSWS {okta['api_token']}"})
    r.raise_for_status()
    return r.json()


def okta_user(okta: dict, user_id: str) -> dict:
    r = httpx.get(f"{okta['url']}/api/v1/users/{user_id}", headers={"authorization": f"SSWS {okta['api_token']}"})
    r.raise_for_status()
    return r.json()


class Admin:
    """The dev admin and approver, through the public API."""

    def __init__(self, dev: dict) -> None:
        self.dev = dev
        self.http = httpx.Client(base_url=dev["apiUrl"], timeout=30)

    def call(self, role: str, method: str, path: str, body: Optional[dict] = None) -> dict:
        r = self.http.request(method, path, json=body, headers={"authorization": f"Bearer {self.dev['tokens'][role]}"})
        if r.status_code >= 400:
            raise AssertionError(f"{method} {path} → {r.status_code} {r.text}")
        return r.json() if r.content else {}

    def register(self, name: str = "reviewer") -> dict:
        return self.call(
            "admin",
            "POST",
            "/v1/identity/agents",
            {"platform": "langchain", "platform_native_id": f"{name}-{uuid.uuid4().hex[:8]}", "name": name, "owner": {"oidc_sub": "it-ops-lead", "email": "it-ops-lead@example.com"}},
        )

    def decide_when_pending(self, agent_id: str, decision: str, reason: str, match: Callable[[dict], bool] = lambda a: True, timeout: float = 60) -> threading.Thread:
        """Starts an approver that decides the agent's first matching pending approval."""
        errors: list = []

        def run() -> None:
            deadline = time.monotonic() + timeout
            try:
                while time.monotonic() < deadline:
                    items = self.call("approver", "GET", "/v1/approvals?status=pending")["items"]
                    mine = [a for a in items if a["agent_id"] == agent_id and match(a)]
                    if mine:
                        self.call("approver", "POST", f"/v1/approvals/{mine[0]['approval_id']}/decision", {"decision": decision, "reason": reason})
                        return
                    time.sleep(0.3)
                errors.append("no pending approval appeared")
            except Exception as e:  # surfaced by join_ok()
                errors.append(repr(e))

        t = threading.Thread(target=run, daemon=True)
        t.errors = errors  # type: ignore[attr-defined]
        t.start()
        return t


def join_ok(t: threading.Thread, timeout: float = 90) -> None:
    t.join(timeout)
    assert not t.is_alive(), "the approver thread did not finish"
    assert not t.errors, t.errors  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def admin(dev: dict, okta: dict) -> Admin:
    """Connector configured against the local Okta and the brief's policy live (and loaded by the PDP)."""
    a = Admin(dev)
    a.call("admin", "PUT", "/v1/connectors/okta", {"config": {"base_url": okta["url"]}, "secret": {"api_token": okta["api_token"]}})
    bundle = a.call("admin", "POST", "/v1/policies/bundles", {"format": "yaml", "document": ACCESS_REVIEW_POLICY})
    a.call("admin", "POST", f"/v1/policies/bundles/{bundle['bundle_id']}/promote")
    # The PDP picks up a promoted bundle within its poll window: wait until a low-risk read is permitted.
    probe = a.register("probe")
    from arx import ActionDenied, SyncARXClient

    with SyncARXClient(base_url=dev["apiUrl"], bootstrap_token=probe["bootstrap_token"]) as c:
        deadline = time.monotonic() + 60
        while True:
            try:
                c.execute(connector="okta", operation="users:read", params={"user_id": "00u1alice"})
                break
            except ActionDenied:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
    return a
