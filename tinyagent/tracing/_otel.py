"""OpenTelemetry spans for runs, turns, model calls and tool calls (the ``otel`` extra).

Names and attributes follow the OpenTelemetry GenAI semantic conventions
(``invoke_agent``, ``chat {model}``, ``execute_tool {tool}``; ``gen_ai.operation.name``,
``gen_ai.request.model``, ``gen_ai.usage.input_tokens``…). Message content is recorded
only with ``record_content=True``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
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
    __slots__ = ("_context", "recording", "span")

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.recording = span.is_recording()  # a no-op span: skip the attribute work
        self._context: otel_context.Context | None = None

    @property
    def context(self) -> otel_context.Context:
        """A context with this span current: made once, for every child and activation
        (a run's span parents two spans a turn)."""
        if self._context is None:
            self._context = trace.set_span_in_context(self.span)
        return self._context

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
        token = otel_context.attach(self.context)
        try:
            yield
        finally:
            otel_context.detach(token)


class _LateSpan:
    """A span that is never current and parents nothing (a model call's): its start
    time and attributes are kept, and the SDK's span is made when it ends, whole, in one
    call, rather than started, given attributes again and ended. Processors see it start
    and end then, with its real start time. Made current after all (``activate``), it
    becomes a span like any other from then on."""

    __slots__ = ("_attributes", "_context", "_kind", "_name", "_real", "_start", "_tracer")

    def __init__(
        self,
        tracer: trace.Tracer,
        name: str,
        attributes: dict[str, Any],
        context: otel_context.Context | None,
        kind: trace.SpanKind,
    ) -> None:
        self._tracer = tracer
        self._name = name
        self._attributes = attributes
        self._context = context
        self._kind = kind
        self._start = time.time_ns()
        self._real: _OtelSpan | None = None

    def _make(self) -> trace.Span:
        return self._tracer.start_span(
            self._name,
            context=self._context,
            kind=self._kind,
            attributes=self._attributes,
            start_time=self._start,
        )

    def set(self, attributes: Mapping[str, Any]) -> None:
        if self._real is not None:
            self._real.set(attributes)
            return
        self._attributes.update(_clean(attributes))

    def end(self, error: str | None = None) -> None:
        if self._real is not None:
            self._real.end(error)
            return
        if error is not None:
            self._attributes["error.type"] = error
        span = self._make()
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end()

    def activate(self) -> AbstractContextManager[Any]:
        if self._real is None:
            self._real = _OtelSpan(self._make())
        return self._real.activate()


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
            context = parent.context
            if kind == "client" and parent.recording:
                # A model call's span, under a span that records: made at its end.
                return _LateSpan(self._tracer, name, _clean(attributes), context, _KINDS[kind])
        span = self._tracer.start_span(
            name, context=context, kind=_KINDS[kind], attributes=_clean(attributes)
        )
        if not span.is_recording() and not span.get_span_context().is_valid:
            # The API with no SDK (or a provider that makes no spans): nothing is
            # recorded and there is no trace to propagate, so the run does no work.
            return NO_SPAN
        return _OtelSpan(span)
