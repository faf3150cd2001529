"""The Bedrock ConverseStream events: a sans-IO parser of the payloads the event-stream
framing hands over, each ``{"<event type>": <member>}``.

``messageStart`` → per block (an optional ``contentBlockStart``, deltas,
``contentBlockStop``) → ``messageStop`` (the stop reason) → ``metadata`` (usage). Blocks
are keyed by ``contentBlockIndex``; text and reasoning blocks start with their first
delta, tool blocks with a ``toolUse`` start. Tool input is joined from its fragments and
parsed once, at the end (empty means ``{}``). Reasoning keeps its signature; redacted
reasoning is kept whole, never shown. A ``toolUse`` started as ``server_tool_use`` and
``toolResult`` blocks are the server's own. An exception frame ends the reply as a
typed failure; a body that ends without ``messageStop`` is a truncated reply. The
native core's ``bedrock-converse`` mode (``native/src/bedrock.rs``) follows exactly
these rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..._util.wording import ENDED_BEFORE_MESSAGE_STOP_EVENT, protocol_violation
from ...messages import (
    Failure,
    FailureKind,
    Model,
    ProviderError,
    StopReason,
    StreamEvent,
    StreamFormatError,
)
from ...wire import DEFAULT_MAX_ARGUMENT_BYTES, AssemblingParser
from .._fields import json_count, json_index, json_str
from .._protocol import StopVerdict

__all__ = ["BedrockParser", "bedrock_stop_verdict", "exception_error"]

_STOP = {
    "end_turn": StopReason.STOP,
    "stop_sequence": StopReason.STOP,
    "max_tokens": StopReason.LENGTH,
    "tool_use": StopReason.TOOL_USE,
}
# The stream's exceptions (ConverseStreamOutput), each with the status it stands for.
_EXCEPTIONS = {
    "internalServerException": (500, FailureKind.SERVER),
    "modelStreamErrorException": (424, FailureKind.SERVER),
    "serviceUnavailableException": (503, FailureKind.OVERLOADED),
    "throttlingException": (429, FailureKind.RATE_LIMIT),
    "validationException": (400, FailureKind.INVALID_REQUEST),
    "modelTimeoutException": (408, FailureKind.TIMEOUT),
}


def bedrock_stop_verdict(reason: str | None, has_tool_calls: bool) -> StopVerdict:
    """Every documented stop reason mapped; a guardrail or a content filter is a typed
    failure, an overflowed context window too; an unknown reason is a normal stop."""
    if reason in ("guardrail_intervened", "content_filtered"):
        return (
            StopReason.ERROR,
            f"the reply was stopped by Bedrock ({reason})",
            Failure(FailureKind.CONTENT_FILTER, code=reason),
        )
    if reason == "model_context_window_exceeded":
        return (
            StopReason.ERROR,
            "the prompt is longer than the model's context window",
            Failure(FailureKind.CONTEXT_OVERFLOW, code=reason),
        )
    return _STOP.get(reason or "end_turn", StopReason.STOP), None, None


def exception_error(event: Mapping[str, Any], provider: str, model: str) -> ProviderError:
    """The error of an exception frame (``{"throttlingException": {"message": …}}``) or
    an error frame, typed by the exception's name."""
    name, member = next(iter(event.items()), ("error", None))
    text = member.get("message") if isinstance(member, Mapping) else None
    status, kind = _EXCEPTIONS.get(name, (None, FailureKind.SERVER))
    message = f"{name}: {text}" if isinstance(text, str) and text else f"{name} (no message)"
    return ProviderError(
        message,
        status=status,
        provider=provider,
        model=model,
        failure=Failure(kind, status, name),
    )


_TEXT, _THINKING, _TOOL, _OTHER = 0, 1, 2, 3


class BedrockParser(AssemblingParser):
    """ConverseStream event payloads in, stream events out."""

    def __init__(
        self,
        model: Model,
        max_argument_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES,
        verdict: Callable[[str | None, bool], StopVerdict] | None = None,
    ) -> None:
        super().__init__(model, max_argument_bytes)
        self._verdict = verdict or bedrock_stop_verdict
        self._slots: dict[int, int] = {}
        self._stopped = False

    def end_of_stream(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        asm = self.asm
        if asm.message is None:
            if self._stopped:
                stop, error, failure = self._verdict(asm.provider_stop_reason, asm.has_tool_calls)
                asm.finish(stop, out, error, failure)
            else:
                asm.fail(ENDED_BEFORE_MESSAGE_STOP_EVENT, out)
        return out

    # --- internals ----------------------------------------------------------------

    def _payload(self, event: dict[str, Any], data: bytes, out: list[StreamEvent]) -> None:
        if len(event) != 1:
            return  # not one event: nothing this version can place
        ((kind, member),) = event.items()
        if kind == "error" or kind.endswith("Exception"):
            exc = exception_error(event, self.asm.provider, self.asm.model_id)
            self.asm.fail(exc.message, out, error=exc)
            return
        if not isinstance(member, dict):
            return
        if kind == "contentBlockDelta":
            self._delta(member, data, out)
        elif kind == "contentBlockStart":
            self._start(member, data, out)
        elif kind == "contentBlockStop":
            self._stop(member, out)
        elif kind == "messageStop":
            reason = json_str(member.get("stopReason"))
            if reason:
                self.asm.provider_stop_reason = reason
            self._stopped = True
        elif kind == "metadata":
            usage = member.get("usage")
            if isinstance(usage, dict):
                self.asm.set_usage(
                    json_count(usage.get("inputTokens")),
                    json_count(usage.get("outputTokens")),
                    json_count(usage.get("cacheReadInputTokens")),
                    json_count(usage.get("cacheWriteInputTokens")),
                    0,
                )
        # messageStart and event types this version does not know: skipped

    def _start(self, member: dict[str, Any], data: bytes, out: list[StreamEvent]) -> None:
        index = json_index(member.get("contentBlockIndex"))
        if index is None or index in self._slots:
            # A block with no index, or one started twice: it cannot be placed.
            raise StreamFormatError(protocol_violation(data))
        start = member.get("start")
        tool = start.get("toolUse") if isinstance(start, dict) else None
        if isinstance(tool, dict) and tool.get("type") != "server_tool_use":
            self._slots[index] = _TOOL
            self.asm.tool_call(
                index,
                json_str(tool.get("toolUseId")) or "",
                json_str(tool.get("name")) or "",
                None,
                out,
            )
        else:
            self._slots[index] = _OTHER  # server tools, their results, unknown starts

    def _delta(self, member: dict[str, Any], data: bytes, out: list[StreamEvent]) -> None:
        index = json_index(member.get("contentBlockIndex"))
        delta = member.get("delta")
        if index is None:
            raise StreamFormatError(protocol_violation(data))
        if not isinstance(delta, dict):
            return
        asm = self.asm
        slot = self._slots.get(index)
        text = delta.get("text")
        if isinstance(text, str):
            if slot is None:
                slot = self._slots[index] = _TEXT  # text blocks start with their delta
            if slot == _TEXT and text:
                asm.text(text, out)
            return
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict):
            if slot is None:
                slot = self._slots[index] = _THINKING
                asm.thinking("", out, new_block=True)
            if slot != _THINKING:
                return
            piece = json_str(reasoning.get("text"))
            if piece:
                asm.thinking(piece, out)
            signature = json_str(reasoning.get("signature"))
            if signature:
                asm.thinking_signature(signature)
            redacted = json_str(reasoning.get("redactedContent"))
            if redacted:
                asm.thinking_signature(redacted, redacted=True)
            return
        tool = delta.get("toolUse")
        if isinstance(tool, dict):
            if slot is None:  # tool input for a block never started: it has no place
                raise StreamFormatError(protocol_violation(data))
            piece = json_str(tool.get("input"))
            if slot == _TOOL and piece:
                asm.tool_call(index, None, None, piece, out)
        # toolResult, citation and unknown deltas: skipped

    def _stop(self, member: dict[str, Any], out: list[StreamEvent]) -> None:
        index = json_index(member.get("contentBlockIndex"))
        slot = self._slots.get(index) if index is not None else None
        if slot == _TOOL:
            self.asm.end_tool_call(index, out)
        elif slot in (_TEXT, _THINKING):
            self.asm.end_current(out)
        # a stop for a block that had no deltas: nothing to end
