"""ARX client: governed execution for Python agents (the integration brief's ``arx.execute``).

The protocol is written once as generators that yield I/O requests (``_Http``, ``_Sleep``) and
receive their results; ``ARXClient`` drives them with ``httpx.AsyncClient`` and
``SyncARXClient`` with ``httpx.Client``, so both forms behave identically.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Optional
from urllib.parse import quote

import httpx

from . import _trace
from .errors import ActionDenied, ActionFailed, ApprovalExpired, ArxError

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
BOOTSTRAP_TYPE = "urn:arx:params:oauth:token-type:bootstrap"
REFRESH_GRANT = "refresh_token"
FINAL = {"executed", "failed", "denied", "rejected", "expired", "cancelled"}
# Answers that say "try again": overload, and what an HTTP API returns when its authorizer or
# integration failed or timed out (500/503/504). A 502 carrying an action is an outcome, not this.
RETRYABLE = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class ActionResult:
    """An executed action. ``approval_metadata`` is set when a human approved it (None when autonomous)."""

    result: Any
    status: str
    action_id: str
    correlation_id: str
    trace_id: str
    decision: dict
    approval_metadata: Optional[dict]
    traceparent: Optional[str] = None


@dataclass(frozen=True)
class Pending:
    """Passed to ``on_pending`` once when an action is held for a human."""

    action_id: str
    approval_id: str
    expires_at: str


@dataclass(frozen=True)
class _Http:
    method: str
    path: str
    headers: dict
    content: Optional[bytes] = None
    timeout: Optional[float] = None


@dataclass(frozen=True)
class _Sleep:
    seconds: float


@dataclass
class _Response:
    status: int
    headers: dict
    body: Any
    error: Optional[Exception] = None


def _jwt_expiry(token: str) -> Optional[float]:
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return float(claims["exp"]) if isinstance(claims.get("exp"), (int, float)) else None
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def _jwt_claims(token: str) -> dict:
    try:
        part = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError):
        return {}


@dataclass
class _State:
    base_url: str
    bootstrap_token: Optional[str]
    token: Optional[str]
    agent_id: Optional[str]
    org_id: Optional[str]
    audience: str = "arx"
    refresh_skew: float = 60.0
    poll_wait: int = 20
    max_retries: int = 4
    backoff_base: float = 0.25
    backoff_cap: float = 8.0
    token_expires_at: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    # Single use, memory only, never in a repr, a log or an error: the next renewal spends it.
    refresh_token: Optional[str] = field(default=None, repr=False)
    bootstrap_spent: bool = False


class _Protocol:
    """Request flows shared by the async and sync clients."""

    def __init__(
        self,
        agent_id: Optional[str] = None,
        org_id: Optional[str] = None,
        base_url: Optional[str] = None,
        bootstrap_token: Optional[str] = None,
        token: Optional[str] = None,
        *,
        audience: str = "arx",
        refresh_skew: float = 60.0,
        poll_wait: int = 20,
        max_retries: int = 4,
        backoff_base: float = 0.25,
    ) -> None:
        base = base_url or os.environ.get("ARX_URL")
        if not base:
            raise ArxError("ARXClient needs base_url or ARX_URL")
        boot = bootstrap_token or os.environ.get("ARX_BOOTSTRAP_TOKEN")
        svid = token or os.environ.get("ARX_AGENT_TOKEN")
        if not boot and not svid:
            raise ArxError("ARXClient needs a bootstrap_token (ARX_BOOTSTRAP_TOKEN) or a token (ARX_AGENT_TOKEN)")
        self._s = _State(
            base_url=base.rstrip("/"),
            bootstrap_token=boot,
            token=svid,
            agent_id=agent_id,
            org_id=org_id,
            audience=audience,
            refresh_skew=refresh_skew,
            poll_wait=poll_wait,
            max_retries=max_retries,
            backoff_base=backoff_base,
        )
        if svid:
            self._s.token_expires_at = _jwt_expiry(svid) or float("inf")
            self._check_identity(svid)

    # -- identity -----------------------------------------------------------------------------

    def _check_identity(self, token: str) -> None:
        """When the caller named an agent (or org), the SVID must be that agent's (or that tenant's)."""
        sub = str(_jwt_claims(token).get("sub", ""))
        if self._s.agent_id and not sub.endswith("/" + self._s.agent_id):
            raise ArxError(f"the ARX token is for {sub or 'an unknown subject'}, not agent {self._s.agent_id}")
        if self._s.org_id and sub and not sub.startswith(f"spiffe://{self._s.org_id}.arx/"):
            raise ArxError(f"the ARX token is for {sub}, not organisation {self._s.org_id}")

    def _can_renew(self) -> bool:
        s = self._s
        return s.refresh_token is not None or (bool(s.bootstrap_token) and not s.bootstrap_spent)

    def _token_flow(self, force: bool = False) -> Generator[Any, Any, str]:
        """The current SVID; renews it with the refresh token (or, before the first, the bootstrap token)."""
        s = self._s
        if not force and s.token and time.time() < s.token_expires_at - s.refresh_skew:
            return s.token
        if not self._can_renew():
            if s.token and time.time() < s.token_expires_at:
                return s.token
            raise ArxError("the ARX token expired and no refresh or bootstrap token is available to renew it")
        refresh_token = s.refresh_token
        if refresh_token is not None:
            form = httpx.QueryParams({"grant_type": REFRESH_GRANT, "refresh_token": refresh_token})
        else:
            form = httpx.QueryParams(
                {
                    "grant_type": TOKEN_EXCHANGE,
                    "subject_token": s.bootstrap_token,
                    "subject_token_type": BOOTSTRAP_TYPE,
                    "audience": s.audience,
                }
            )
        # Spent by this request whatever it answers: never sent twice.
        s.refresh_token = None
        if refresh_token is None:
            s.bootstrap_spent = True
        r: _Response = yield from self._send(
            _Http(
                "POST",
                "/v1/identity/token",
                {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"},
                str(form).encode(),
            ),
            retry=True,
        )
        body = r.body if isinstance(r.body, dict) else {}
        if r.status != 200 or not body.get("access_token"):
            if r.status >= 500:  # the server spends a token only when it issues: keep it for a retry
                if refresh_token is not None:
                    s.refresh_token = refresh_token
                else:
                    s.bootstrap_spent = False
            what = "refresh" if refresh_token is not None else "exchange"
            detail = f" ({body['error_description']})" if body.get("error_description") else ""
            raise ArxError(
                f"token {what} failed: {body.get('error', r.status)}{detail}",
                r.status,
                {"error": body.get("error"), "error_description": body.get("error_description")},
            )
        token = str(body["access_token"])
        self._check_identity(token)
        s.token = token
        s.token_expires_at = _jwt_expiry(token) or time.time() + float(body.get("expires_in", 300))
        rt = body.get("refresh_token")
        s.refresh_token = str(rt) if rt else None
        return token

    # -- transport ----------------------------------------------------------------------------

    def _backoff(self, attempt: int, retry_after: Optional[str]) -> float:
        if retry_after:
            try:
                return min(float(retry_after), 60.0)
            except ValueError:
                pass
        ceiling = min(self._s.backoff_cap, self._s.backoff_base * (2**attempt))
        return self._s.rng.uniform(ceiling / 2, ceiling)  # "equal jitter"

    def _send(self, req: _Http, retry: bool) -> Generator[Any, Any, _Response]:
        """One request, retried (when ``retry``) on connection errors and retryable statuses."""
        attempt = 0
        while True:
            r: _Response = yield req
            retryable = r.error is not None or (
                r.status in RETRYABLE and not (r.status == 502 and isinstance(r.body, dict) and "action_id" in r.body)
            )
            if not retry or not retryable or attempt >= self._s.max_retries:
                if r.error is not None:
                    raise ArxError(f"cannot reach ARX at {self._s.base_url}: {r.error}") from r.error
                return r
            yield _Sleep(self._backoff(attempt, r.headers.get("retry-after")))
            attempt += 1

    def _call(
        self, method: str, path: str, body: Any = None, headers: Optional[dict] = None, retry: bool = True, timeout: Optional[float] = None
    ) -> Generator[Any, Any, _Response]:
        """An authenticated call; a 401 exchanges the token once more (rotation, early expiry)."""
        for attempt in range(2):
            token = yield from self._token_flow(force=attempt > 0)
            h = {"authorization": f"Bearer {token}", "accept": "application/json", **(headers or {})}
            content = None
            if body is not None:
                h["content-type"] = "application/json"
                content = json.dumps(body, separators=(",", ":")).encode()
            r = yield from self._send(_Http(method, path, h, content, timeout), retry=retry)
            if r.status == 401 and attempt == 0 and self._can_renew():
                continue
            return r
        raise AssertionError("unreachable")

    # -- governed execution -------------------------------------------------------------------

    def _execute_flow(
        self,
        connector: str,
        operation: str,
        params: Optional[dict],
        correlation_id: Optional[str],
        reason: Optional[str],
        timeout: Optional[float],
        on_pending: Optional[Callable[[Pending], Any]],
        idempotency_key: Optional[str],
        traceparent: Optional[str],
    ) -> Generator[Any, Any, ActionResult]:
        correlation_id = correlation_id or str(uuid.uuid4())
        body: dict = {"connector": connector, "operation": operation, "params": params or {}, "correlation_id": correlation_id}
        if reason:
            body["reason"] = reason
        headers = {
            "traceparent": traceparent or _trace.current_traceparent(),
            # One key per logical call, reused on every retry: ARX returns the first outcome.
            "idempotency-key": idempotency_key or str(uuid.uuid4()),
        }
        r = yield from self._call("POST", "/v1/actions", body, headers)
        wire = r.body if isinstance(r.body, dict) else {}
        returned_tp = r.headers.get("traceparent")
        if r.status == 202 and wire.get("action_id"):
            if on_pending is not None:
                on_pending(Pending(wire["action_id"], str(wire.get("approval_id", "")), str(wire.get("expires_at", ""))))
            return (yield from self._wait_flow(wire["action_id"], timeout, wire.get("approval_id"), returned_tp))
        if r.status in (200, 403, 502) and wire.get("action_id"):
            return self._outcome(wire, None, returned_tp)
        title = wire.get("title", "")
        detail = f" — {wire['detail']}" if wire.get("detail") else ""
        raise ArxError(f"ARX refused the request: {r.status} {title}{detail}", r.status, r.body)

    def _get_flow(self, action_id: str, wait_s: int = 0) -> Generator[Any, Any, dict]:
        path = f"/v1/actions/{_quote(action_id)}"
        if wait_s:
            path += f"?wait={wait_s}"
        r = yield from self._call("GET", path, timeout=wait_s + 30.0)
        if r.status != 200 or not isinstance(r.body, dict):
            raise ArxError(f"cannot read action {action_id}: {r.status}", r.status, r.body)
        return r.body

    def _wait_flow(
        self, action_id: str, timeout: Optional[float], approval_id: Optional[str] = None, traceparent: Optional[str] = None
    ) -> Generator[Any, Any, ActionResult]:
        until = time.monotonic() + (timeout if timeout is not None else 2 * 3600.0)
        while True:
            remaining = max(1, int(until - time.monotonic() + 0.999))
            a = yield from self._get_flow(action_id, min(self._s.poll_wait, remaining))
            if a.get("status") in FINAL:
                return self._outcome(a, approval_id, traceparent)
            if time.monotonic() >= until:
                raise ArxError(f"gave up waiting for action {action_id} (still {a.get('status')}); resume with wait_for()")

    @staticmethod
    def _outcome(a: dict, approval_id: Optional[str], traceparent: Optional[str]) -> ActionResult:
        status = a.get("status")
        action_id = str(a.get("action_id"))
        decision = a.get("decision")
        err = a.get("error") or {}
        if status == "executed":
            return ActionResult(
                result=a.get("result"),
                status="executed",
                action_id=action_id,
                correlation_id=str(a.get("correlation_id")),
                trace_id=str(a.get("trace_id")),
                decision=decision or {},
                approval_metadata=a.get("approval_metadata"),
                traceparent=traceparent,
            )
        if status == "denied":
            errors = "; ".join((decision or {}).get("errors") or [])
            raise ActionDenied(f"policy forbids {action_id}{': ' + errors if errors else ''}", action_id, "policy", decision, a)
        if status == "rejected":
            raise ActionDenied(f"an approver denied action {action_id}", action_id, "approver", decision, a)
        if status == "cancelled":
            raise ActionDenied(f"action {action_id} was cancelled: {err.get('message', 'agent revoked')}", action_id, "kill-switch", decision, a)
        if status == "expired":
            raise ApprovalExpired(action_id, a.get("approval_id") or approval_id, decision, a)
        raise ActionFailed(action_id, str(err.get("code", "failed")), bool(err.get("retryable", False)), str(err.get("message", f"action {action_id} {status}")), decision, a)


def _quote(s: str) -> str:
    return quote(s, safe="")


def _parse(resp: httpx.Response) -> _Response:
    text = resp.text
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        body = text
    return _Response(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, body)


class ARXClient(_Protocol):
    """Async client. Unset arguments come from ``ARX_URL``, ``ARX_BOOTSTRAP_TOKEN`` and ``ARX_AGENT_TOKEN``.

    Example::

        arx = ARXClient(agent_id="01J…")
        users = await arx.execute(connector="okta", operation="users:list", params={})
        result = await arx.execute(connector="okta", operation="users:deactivate", params={"user_id": "00u3"})
        result.approval_metadata  # {"approval_id", "approver", "decided_at", "reason", "policy", …}
    """

    def __init__(self, *args: Any, http: Optional[httpx.AsyncClient] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http = http or httpx.AsyncClient(timeout=30.0)
        self._token_lock = asyncio.Lock()

    async def _drive(self, flow: Generator[Any, Any, Any]) -> Any:
        value: Any = None
        while True:
            try:
                op = flow.send(value)
            except StopIteration as done:
                return done.value
            if isinstance(op, _Sleep):
                await asyncio.sleep(op.seconds)
                value = None
                continue
            try:
                resp = await self._http.request(
                    op.method, self._s.base_url + op.path, headers=op.headers, content=op.content, timeout=op.timeout or 30.0
                )
                value = _parse(resp)
            except httpx.TransportError as e:
                value = _Response(0, {}, None, e)

    async def token(self, force: bool = False) -> str:
        """The current SVID, exchanging the bootstrap token when none is valid for at least the skew."""
        async with self._token_lock:
            return await self._drive(self._token_flow(force))

    async def execute(
        self,
        connector: str,
        operation: str,
        params: Optional[dict] = None,
        correlation_id: Optional[str] = None,
        reason: Optional[str] = None,
        timeout: Optional[float] = None,
        *,
        on_pending: Optional[Callable[[Pending], Any]] = None,
        idempotency_key: Optional[str] = None,
        traceparent: Optional[str] = None,
    ) -> ActionResult:
        """Runs ``connector:operation`` once ARX allows it, waiting through a human approval.

        Raises ``ActionDenied``, ``ApprovalExpired``, ``ActionFailed`` (each with ``.decision``) or ``ArxError``.
        ``timeout`` bounds the wait for an approval (default 2 h); the action id survives it and a
        restarted agent resumes with ``wait_for(action_id)``.
        """
        await self.token()
        return await self._drive(
            self._execute_flow(connector, operation, params, correlation_id, reason, timeout, on_pending, idempotency_key, traceparent)
        )

    async def wait_for(self, action_id: str, timeout: Optional[float] = None) -> ActionResult:
        """Resumes waiting for an action submitted earlier (e.g. before a restart)."""
        await self.token()
        return await self._drive(self._wait_flow(action_id, timeout))

    async def get_action(self, action_id: str, wait_s: int = 0) -> dict:
        await self.token()
        return await self._drive(self._get_flow(action_id, wait_s))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "ARXClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


class SyncARXClient(_Protocol):
    """Blocking client with the same behaviour as ``ARXClient``."""

    def __init__(self, *args: Any, http: Optional[httpx.Client] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http = http or httpx.Client(timeout=30.0)

    def _drive(self, flow: Generator[Any, Any, Any]) -> Any:
        value: Any = None
        while True:
            try:
                op = flow.send(value)
            except StopIteration as done:
                return done.value
            if isinstance(op, _Sleep):
                time.sleep(op.seconds)
                value = None
                continue
            try:
                resp = self._http.request(op.method, self._s.base_url + op.path, headers=op.headers, content=op.content, timeout=op.timeout or 30.0)
                value = _parse(resp)
            except httpx.TransportError as e:
                value = _Response(0, {}, None, e)

    def token(self, force: bool = False) -> str:
        return self._drive(self._token_flow(force))

    def execute(
        self,
        connector: str,
        operation: str,
        params: Optional[dict] = None,
        correlation_id: Optional[str] = None,
        reason: Optional[str] = None,
        timeout: Optional[float] = None,
        *,
        on_pending: Optional[Callable[[Pending], Any]] = None,
        idempotency_key: Optional[str] = None,
        traceparent: Optional[str] = None,
    ) -> ActionResult:
        return self._drive(
            self._execute_flow(connector, operation, params, correlation_id, reason, timeout, on_pending, idempotency_key, traceparent)
        )

    def wait_for(self, action_id: str, timeout: Optional[float] = None) -> ActionResult:
        return self._drive(self._wait_flow(action_id, timeout))

    def get_action(self, action_id: str, wait_s: int = 0) -> dict:
        return self._drive(self._get_flow(action_id, wait_s))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "SyncARXClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
