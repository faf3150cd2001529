"""The spans of one run, with the GenAI semantic conventions' names and attributes.

The loop calls these at the points where the work starts and ends; every span started
is ended on every path (done, error, abort, deadline), an unfinished one with an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from urllib.parse import urlsplit

from .._util.json import dumps
from ..messages import AssistantMessage, Message, Model, StopReason, ToolCall, ToolResultMessage
from ..serde import unstructure
from ._protocol import Span, SpanKind, Tracer

__all__ = ["NO_SPAN", "RunSpans", "run_spans"]

_FINISH = {
    StopReason.STOP: "stop",
    StopReason.LENGTH: "length",
    StopReason.TOOL_USE: "tool_call",
    StopReason.ERROR: "error",
    StopReason.ABORTED: "aborted",
}


def _content(messages: Sequence[Message]) -> str:
    return dumps([unstructure(m) for m in messages]).decode()


_NOTHING = nullcontext()  # stateless, so one serves every block


class _NoSpan:
    """A span that records nothing (what an untraced run hands out)."""

    __slots__ = ()

    def set(self, attributes: Mapping[str, Any]) -> None:
        pass

    def end(self, error: str | None = None) -> None:
        pass

    def activate(self) -> AbstractContextManager[Any]:
        return _NOTHING


NO_SPAN = _NoSpan()
"""What a tracer may return for a span that records nothing and carries no context (the
OpenTelemetry API with no SDK): the run then does no tracing work at all."""


class _NoTracer:
    """The tracer of an untraced run (never called: the run's spans return first)."""

    record_content = False

    def start(
        self,
        name: str,
        attributes: Mapping[str, Any],
        parent: Span | None,
        kind: SpanKind = "internal",
    ) -> Span:
        return NO_SPAN


_NO_TRACER = _NoTracer()


class RunSpans:
    """One run's spans: ``run`` (``invoke_agent``) and under it each model call
    (``chat``) and tool call (``execute_tool``), marked with its turn; with a tracer's
    ``turn_spans``, a span per turn between them."""

    __slots__ = (
        "_live",
        "_model",
        "_model_attributes",
        "_tracer",
        "_turn_number",
        "_turn_spans",
        "run",
        "turn",
    )

    def __init__(self, tracer: Tracer | None) -> None:
        self._tracer: Tracer = tracer if tracer is not None else _NO_TRACER
        # A span per turn costs as much as a model call's (~10-30 µs in the SDK) and the
        # GenAI conventions have none: the turn is an attribute unless a tracer asks.
        self._turn_spans = bool(getattr(tracer, "turn_spans", False))
        self._turn_number = 0
        # Whether there is anything to do: no tracer, or a run's span that is NO_SPAN
        # (the API with no SDK), and every call returns at once.
        self._live = tracer is not None
        self.run: Span | None = None
        self.turn: Span | None = None
        self._model: Model | None = None  # the model the cached attributes describe
        self._model_attributes: dict[str, Any] = {}

    def start_run(self, model: Model, system_prompt: str) -> None:
        if not self._live:
            return
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "tinyagent",
            "gen_ai.provider.name": model.provider_name,
            "gen_ai.request.model": model.id,
        }
        if self._tracer.record_content and system_prompt:
            attributes["gen_ai.system_instructions"] = system_prompt
        self.run = self._tracer.start("invoke_agent tinyagent", attributes, None)
        self._live = self.run is not NO_SPAN

    def end_run(self, stop_reason: str, error: str | None, usage: Any) -> None:
        span, self.run = self.run, None
        if span is None:
            return
        span.set(
            {
                "tinyagent.stop_reason": stop_reason,
                "gen_ai.usage.input_tokens": usage.input + usage.cache_read + usage.cache_write,
                "gen_ai.usage.output_tokens": usage.output,
                "error.message": error,
            }
        )
        failed = stop_reason in ("aborted", "error", "deadline")
        span.end(stop_reason if failed else None)

    def start_turn(self, number: int) -> None:
        if not self._live:
            return
        self._turn_number = number
        if self._turn_spans:
            self.end_turn("aborted")  # a turn left open (never: a guard)
            self.turn = self._tracer.start(f"turn {number}", {"tinyagent.turn": number}, self.run)

    def end_turn(self, error: str | None = None) -> None:
        span, self.turn = self.turn, None
        if span is not None:
            span.end(error)

    def _describe(self, model: Model) -> dict[str, Any]:
        """The model's attributes, worked out once per model, not once per call."""
        if model is not self._model:
            parts = urlsplit(model.base_url)
            self._model = model
            self._model_attributes = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": model.provider_name,
                "gen_ai.request.model": model.id,
                "server.address": parts.hostname,
                "server.port": parts.port,
                "tinyagent.api": model.api,
            }
        return self._model_attributes

    def start_model_call(self, model: Model, messages: Sequence[Message], options: Any) -> Span:
        if not self._live:
            return NO_SPAN
        attributes = dict(self._describe(model))
        attributes["tinyagent.turn"] = self._turn_number
        temperature = options.get("temperature")
        if temperature is not None:
            attributes["gen_ai.request.temperature"] = temperature
        limit = options.get("max_tokens") or model.max_tokens
        if limit is not None:
            attributes["gen_ai.request.max_tokens"] = limit
        if self._tracer.record_content:
            attributes["gen_ai.input.messages"] = _content(messages)
        return self._tracer.start(f"chat {model.id}", attributes, self.turn or self.run, "client")

    def end_model_call(self, span: Span, reply: AssistantMessage | None) -> None:
        if span is NO_SPAN:
            return
        if reply is None:
            span.end("aborted")
            return
        u = reply.usage
        attributes: dict[str, Any] = {
            "gen_ai.response.model": reply.model or None,
            "gen_ai.response.id": reply.response_id,
            "gen_ai.response.finish_reasons": [_FINISH.get(reply.stop_reason, "stop")],
            "gen_ai.usage.input_tokens": u.input + u.cache_read + u.cache_write,
            "gen_ai.usage.output_tokens": u.output,
            "gen_ai.usage.cache_read.input_tokens": u.cache_read or None,
            "gen_ai.usage.cache_creation.input_tokens": u.cache_write or None,
        }
        if self._tracer.record_content:
            attributes["gen_ai.output.messages"] = _content([reply])
        error = None
        if reply.stop_reason is StopReason.ERROR:
            error = reply.failure.kind.value if reply.failure is not None else "error"
            attributes["error.message"] = reply.error_message
        elif reply.stop_reason is StopReason.ABORTED:
            error = "aborted"
        span.set(attributes)
        span.end(error)

    def start_tool(self, call: ToolCall) -> Span:
        if not self._live:
            return NO_SPAN
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": call.id,
            "gen_ai.tool.type": "function",
            "tinyagent.turn": self._turn_number,
        }
        if self._tracer.record_content:
            attributes["gen_ai.tool.call.arguments"] = (
                call.raw_arguments or dumps(call.arguments).decode()
            )
        return self._tracer.start(f"execute_tool {call.name}", attributes, self.turn or self.run)

    def end_tool(self, span: Span, result: ToolResultMessage | None) -> None:
        if span is NO_SPAN:
            return
        if result is None:
            span.end("aborted")
            return
        if self._tracer.record_content:
            span.set({"gen_ai.tool.call.result": result.text})
        span.end("tool_error" if result.is_error else None)


def run_spans(tracer: Tracer | None) -> RunSpans:
    """A run's spans: recorded through ``tracer``, or none at all (no tracer: every
    call returns at its first line, so the run calls them unconditionally instead of
    asking at each site whether it is traced)."""
    return RunSpans(tracer)
