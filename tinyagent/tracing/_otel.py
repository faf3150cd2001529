"""OpenTelemetry spans for runs, turns, model calls and tool calls (the ``otel`` extra).

Names and attributes follow the OpenTelemetry GenAI semantic conventions
(``invoke_agent``, ``chat {model}``, ``execute_tool {tool}``; ``gen_ai.operation.name``,
``gen_ai.request.model``, ``gen_ai.usage.input_tokens``…). Message content is recorded
only with ``record_content=True``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from .._version import __version__
from ._protocol import Span, SpanKind
from ._spans import NO_SPAN

__all__ = ["OpenTelemetryTracer"]

_KINDS = {"internal": trace.SpanKind.INTERNAL, "client": trace.SpanKind.CLIENT}


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if v is not None}


class _OtelSpan:
    __slots__ = ("recording", "span")

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.recording = span.is_recording()  # a no-op span: skip the attribute work

    def set(self, attributes: Mapping[str, Any]) -> None:
        if self.recording:
            self.span.set_attributes(_clean(attributes))

    def end(self, error: str | None = None) -> None:
        if error is not None and self.recording:
            self.span.set_attribute("error.type", error)
            self.span.set_status(Status(StatusCode.ERROR, error))
        self.span.end()

    @contextmanager
    def activate(self) -> Iterator[None]:
        token = otel_context.attach(trace.set_span_in_context(self.span))
        try:
            yield
        finally:
            otel_context.detach(token)


class OpenTelemetryTracer:
    """``Agent(..., tracer=OpenTelemetryTracer())``: spans through the global tracer
    provider, or ``tracer_provider``. ``turn_spans=True`` adds a span per turn between
    the run's and its calls' (each call carries ``tinyagent.turn`` either way)."""

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        *,
        record_content: bool = False,
        turn_spans: bool = False,
    ) -> None:
        provider = tracer_provider or trace.get_tracer_provider()
        self._tracer = provider.get_tracer("tinyagent", __version__)
        self.record_content = record_content
        self.turn_spans = turn_spans

    def start(
        self,
        name: str,
        attributes: Mapping[str, Any],
        parent: Span | None,
        kind: SpanKind = "internal",
    ) -> Span:
        if parent is NO_SPAN:
            return NO_SPAN  # under a span that is nothing, nothing
        context = None
        if isinstance(parent, _OtelSpan):
            context = trace.set_span_in_context(parent.span)
        span = self._tracer.start_span(
            name, context=context, kind=_KINDS[kind], attributes=_clean(attributes)
        )
        if not span.is_recording() and not span.get_span_context().is_valid:
            # The API with no SDK (or a provider that makes no spans): nothing is
            # recorded and there is no trace to propagate, so the run does no work.
            return NO_SPAN
        return _OtelSpan(span)
