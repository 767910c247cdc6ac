"""W3C trace context checked against OpenTelemetry's own propagator (opentelemetry-api only: the SDK
package cannot be installed from this package index, and none is needed for a non-recording span)."""

from __future__ import annotations

import base64
import json

import httpx
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from arx import SyncARXClient, continued_context

W3C = TraceContextTextMapPropagator()
ARX_SPAN = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"


def _svid() -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc({'alg': 'ES256'})}.{enc({'sub': 'spiffe://acme.arx/langchain/01AGENT', 'exp': 4_102_444_800})}.sig"


def _client(seen: list) -> SyncARXClient:
    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.headers.get("traceparent"))
        trace_id = req.headers["traceparent"].split("-")[1]
        body = {"action_id": "act_1", "status": "executed", "result": {}, "correlation_id": "c", "trace_id": trace_id, "decision": {"effect": "permit"}}
        return httpx.Response(200, json=body, headers={"traceparent": f"00-{trace_id}-b7ad6b7169203331-01"})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return SyncARXClient(base_url="http://arx.test", token=_svid(), http=http)


def test_the_traceparent_sent_is_the_one_the_opentelemetry_propagator_writes_for_the_current_span():
    seen: list = []
    for flags in (TraceFlags.SAMPLED, TraceFlags.DEFAULT):
        parent = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, is_remote=False, trace_flags=TraceFlags(flags))
        carrier: dict = {}
        with trace.use_span(NonRecordingSpan(parent)):
            W3C.inject(carrier)
            with _client(seen) as arx:
                r = arx.execute(connector="okta", operation="users:read", params={"user_id": "00u1"})
        assert seen[-1] == carrier["traceparent"]
        assert r.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_without_a_current_span_a_new_valid_trace_is_started_that_the_propagator_accepts():
    seen: list = []
    with _client(seen) as arx:
        arx.execute(connector="okta", operation="users:read", params={"user_id": "00u1"})
    ctx = trace.get_current_span(W3C.extract({"traceparent": seen[0]})).get_span_context()
    assert ctx.is_valid and ctx.is_remote and f"{ctx.trace_id:032x}" == seen[0].split("-")[1]


def test_the_returned_span_continues_as_the_propagator_would_extract_it():
    expected = trace.get_current_span(W3C.extract({"traceparent": ARX_SPAN})).get_span_context()
    got = trace.get_current_span(continued_context(ARX_SPAN)).get_span_context()
    assert (got.trace_id, got.span_id, got.trace_flags, got.is_remote) == (
        expected.trace_id,
        expected.span_id,
        expected.trace_flags,
        expected.is_remote,
    )
    # What the propagator refuses, the SDK does not continue either.
    for bad in ("00-00000000000000000000000000000000-b7ad6b7169203331-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "garbage"):
        assert not trace.get_current_span(W3C.extract({"traceparent": bad})).get_span_context().is_valid
        assert continued_context(bad) is None
