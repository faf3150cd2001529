"""Tracing: spans for each run, turn, model call and tool call.

``Agent(..., tracer=OpenTelemetryTracer())`` (the ``otel`` extra) records them with the
OpenTelemetry GenAI semantic conventions; any object with the :class:`Tracer` protocol
works. Without a tracer nothing is done. Message content goes on spans only with
``record_content=True``.

It imports ``serde``, ``messages`` and ``_util`` (and the ``otel`` extra, on use); the
agent calls its hooks.
"""

from typing import TYPE_CHECKING, Any

from ._protocol import Span, SpanKind, Tracer

# For the rooms above, not the user's surface: they import a room only through its face.
from ._spans import RunSpans as RunSpans
from ._spans import run_spans as run_spans

__all__ = ["OpenTelemetryTracer", "Span", "SpanKind", "Tracer"]

if TYPE_CHECKING:
    from ._otel import OpenTelemetryTracer


def __getattr__(name: str) -> Any:
    if name == "OpenTelemetryTracer":  # imported on use: opentelemetry is an extra
        try:
            from ._otel import OpenTelemetryTracer
        except ImportError as exc:  # pragma: no cover - exercised without the extra
            raise ImportError(
                "OpenTelemetryTracer needs OpenTelemetry: pip install 'tinyagent-sdk[otel]'"
            ) from exc
        return OpenTelemetryTracer
    raise AttributeError(f"module 'tinyagent.tracing' has no attribute {name!r}")
