"""W3C trace context: continue the caller's OpenTelemetry span when OpenTelemetry is installed."""

from __future__ import annotations

import re
import secrets
from typing import Optional

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

try:  # OpenTelemetry is optional: without it a new trace is started per call.
    from opentelemetry import trace as _otel_trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
except ImportError:  # pragma: no cover - exercised by the no-otel path only
    _otel_trace = None


def parse(traceparent: Optional[str]) -> Optional[tuple[str, str, str]]:
    """``(trace_id, span_id, flags)`` of a valid version-00 traceparent, else None (all-zero ids are invalid)."""
    if not traceparent:
        return None
    m = _TRACEPARENT.match(traceparent.strip())
    if not m or set(m.group(1)) == {"0"} or set(m.group(2)) == {"0"}:
        return None
    return m.group(1), m.group(2), m.group(3)


def current_traceparent() -> str:
    """The active OpenTelemetry span's context as a traceparent, or a fresh sampled one."""
    if _otel_trace is not None:
        ctx = _otel_trace.get_current_span().get_span_context()
        if ctx.is_valid:
            return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def continued_context(traceparent: Optional[str]):
    """An OpenTelemetry context whose parent is ARX's returned span (None without OpenTelemetry).

    Use it to start the agent's next span as a child of ARX's execution span::

        with tracer.start_as_current_span("after-arx", context=arx.continued_context(result.traceparent)):
            ...
    """
    parsed = parse(traceparent)
    if _otel_trace is None or parsed is None:
        return None
    trace_id, span_id, flags = parsed
    span = NonRecordingSpan(SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(int(flags, 16))))
    return _otel_trace.set_span_in_context(span)
