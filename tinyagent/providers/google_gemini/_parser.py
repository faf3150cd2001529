"""The Gemini stream: a sans-IO parser of ``streamGenerateContent?alt=sse`` chunks.

Each SSE ``data`` payload is a whole ``GenerateContentResponse``; ``candidates[0]``'s
``content.parts`` are the parts new since the last chunk. A text part is text, a part
with ``thought: true`` is reasoning, a ``functionCall`` part is a whole tool call (its
``args`` an object, never fragments). Other parts (server tools' ``executableCode``,
``toolCall``…) are skipped. ``usageMetadata`` holds running totals: the last one wins.
There is no end marker: a chunk with ``finishReason`` ends the reply when the body
ends, and a body that ends without one is a truncated reply.

Thought signatures (``thoughtSignature``, opaque) may sit on any part, and must go back
on the same part. A signature on a thought part is that thinking block's signature; on
a text or ``functionCall`` part it becomes a signature-only, redacted thinking block
placed just before the part, which the request builder puts back on the part that
follows it. The Gemini API gives calls no id: a call without one is given
``call_<n>``, stable within the reply. The native core's ``google-gemini`` mode
(``native/src/gemini.rs``) follows exactly these rules.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..._util.wording import ENDED_BEFORE_FINISH, unexpected_structure
from ...messages import Failure, FailureKind, Model, StopReason, StreamEvent, StreamFormatError
from ...wire import (
    DEFAULT_MAX_ARGUMENT_BYTES,
    AssemblingParser,
    cut_to_argument_depth,
)
from .._failures import failure_from_error_object
from .._fields import json_count, json_str
from .._protocol import StopVerdict

__all__ = ["GeminiParser", "gemini_stop_verdict"]

_STOP = {
    "STOP": StopReason.STOP,
    "MAX_TOKENS": StopReason.LENGTH,
}
# Finish reasons that mean the reply was withheld or broken: an error with a typed kind.
_FILTERED = {
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_RECITATION",
    "LANGUAGE",
}
_MALFORMED = {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"}


def gemini_stop_verdict(reason: str | None, has_tool_calls: bool) -> StopVerdict:
    """``STOP`` also ends a function-call turn (Gemini has no tool-use reason); a
    content filter and a malformed call are typed failures; an unknown reason is a
    normal stop, kept as ``provider_stop_reason``."""
    if reason in _FILTERED:
        return (
            StopReason.ERROR,
            f"the reply was stopped by Gemini's filter ({reason})",
            Failure(FailureKind.CONTENT_FILTER, code=reason),
        )
    if reason in _MALFORMED:
        return (
            StopReason.ERROR,
            f"Gemini could not produce a valid function call ({reason})",
            Failure(FailureKind.SERVER, code=reason),
        )
    if has_tool_calls:
        return StopReason.TOOL_USE, None, None
    return _STOP.get(reason or "STOP", StopReason.STOP), None, None


_I64 = 2**63 - 1


class GeminiParser(AssemblingParser):
    """``GenerateContentResponse`` chunks in (SSE ``data`` payloads), stream events out."""

    def __init__(
        self,
        model: Model,
        max_argument_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES,
        verdict: Callable[[str | None, bool], StopVerdict] | None = None,
    ) -> None:
        super().__init__(model, max_argument_bytes)
        self._verdict = verdict or gemini_stop_verdict
        self._calls = 0
        self._finished = False
        # The last usageMetadata with a prompt count: read once, when the reply ends
        # (each chunk restates running totals; pricing them every chunk would cost more
        # than the chunk).
        self._usage: dict[str, Any] | None = None

    def end_of_stream(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        asm = self.asm
        if asm.message is None:
            self._take_usage()
            if self._finished:
                stop, error, failure = self._verdict(asm.provider_stop_reason, asm.has_tool_calls)
                asm.finish(stop, out, error, failure)
            else:
                asm.fail(ENDED_BEFORE_FINISH, out)
        return out

    def fail(
        self,
        message: str,
        *,
        stop_reason: StopReason = StopReason.ERROR,
        error: BaseException | None = None,
    ) -> list[StreamEvent]:
        if self.asm.message is None:
            self._take_usage()  # a reply cut by the transport keeps its usage so far
        return super().fail(message, stop_reason=stop_reason, error=error)

    def _take_usage(self) -> None:
        usage = self._usage
        if usage is not None:
            prompt = json_count(usage.get("promptTokenCount"))
            cached = json_count(usage.get("cachedContentTokenCount"))
            thoughts = json_count(usage.get("thoughtsTokenCount"))
            output = min(json_count(usage.get("candidatesTokenCount")) + thoughts, _I64)
            self.asm.set_usage(max(prompt - cached, 0), output, cached, 0, thoughts)

    # --- internals ----------------------------------------------------------------

    def _payload(self, chunk: dict[str, Any], data: bytes, out: list[StreamEvent]) -> None:
        asm = self.asm
        error = chunk.get("error")
        if error is not None:
            exc = failure_from_error_object(error, asm.provider, asm.model_id)
            self._take_usage()
            asm.fail(exc.message, out, error=exc)
            return
        if asm.response_id is None:
            asm.response_id = json_str(chunk.get("responseId"))
        candidates = chunk.get("candidates")
        # (JSON gives exact types: ``x.__class__ is dict`` is isinstance, cheaper.)
        if candidates.__class__ is list and candidates and candidates[0].__class__ is dict:
            candidate = candidates[0]
            content = candidate.get("content")
            parts = content.get("parts") if content.__class__ is dict else None
            if parts.__class__ is list:
                for part in parts:
                    if part.__class__ is not dict:
                        continue
                    text = part.get("text")
                    if text.__class__ is str and len(part) == 1:  # a plain text part
                        if text:
                            asm.text(text, out)
                    elif text.__class__ is str and len(part) == 2 and part.get("thought") is True:
                        asm.thinking(text, out)  # a plain thought part
                    else:
                        self._part(part, data, out)
            reason = candidate.get("finishReason")
            if reason.__class__ is str and reason:
                asm.provider_stop_reason = reason
                self._finished = True
        usage = chunk.get("usageMetadata")
        if usage.__class__ is dict and "promptTokenCount" in usage:
            self._usage = usage

    def _part(self, part: dict[str, Any], data: bytes, out: list[StreamEvent]) -> None:
        asm = self.asm
        signature = json_str(part.get("thoughtSignature"))
        call = part.get("functionCall")
        if isinstance(call, dict):
            if signature:
                self._signature_block(signature, out)
            args = call.get("args")
            if args is None:
                args = {}
            if not isinstance(args, dict):  # a call's arguments are an object
                raise StreamFormatError(unexpected_structure(data))
            key = self._calls
            self._calls += 1
            call_id = json_str(call.get("id")) or f"call_{key}"
            arguments = json.dumps(
                cut_to_argument_depth(args), ensure_ascii=False, separators=(",", ":")
            )
            asm.tool_call(
                ("gemini", key), call_id, json_str(call.get("name")) or "", arguments, out
            )
            asm.end_tool_call(("gemini", key), out)
            return
        text = json_str(part.get("text"))
        if text is None:
            if signature:  # a signature on a part this version does not model: kept
                self._signature_block(signature, out)
            return  # executableCode, codeExecutionResult, toolCall…: server-side
        if part.get("thought") is True:
            asm.thinking(text, out)
            if signature:
                asm.thinking_signature(signature)
                asm.end_current(out)  # the next thought part is a block of its own
            return
        if signature:
            self._signature_block(signature, out)
        if text:
            asm.text(text, out)

    def _signature_block(self, signature: str, out: list[StreamEvent]) -> None:
        """A signature that belongs to the part after it: a redacted thinking block."""
        asm = self.asm
        asm.thinking("", out, new_block=True)
        asm.thinking_signature(signature, redacted=True)
        asm.end_current(out)
