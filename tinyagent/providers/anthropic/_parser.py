"""The Anthropic Messages stream: a sans-IO event parser.

``message_start`` → per block (``content_block_start`` → deltas → ``content_block_stop``)
→ ``message_delta`` → ``message_stop``, with ``ping`` anywhere. Blocks are keyed by
their ``index``. Tool input is joined from its ``input_json_delta`` fragments and parsed
once, at the end (empty means ``{}``; invalid JSON is kept verbatim with an error, never
replaced). Usage in ``message_delta`` is cumulative: it replaces, field by field.
Server-side blocks (web search, code execution, MCP…) and unknown event, block and
delta types are skipped, never a crash. A body that ends without ``message_stop`` is a
truncated reply. The native core's ``anthropic-messages`` mode
(``native/src/anthropic.rs``) follows exactly these rules.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ..._util.wording import CONTEXT_WINDOW_EXCEEDED, ENDED_BEFORE_MESSAGE_STOP, protocol_violation
from ...messages import Failure, FailureKind, Model, StopReason, StreamEvent, StreamFormatError
from ...wire import (
    DEFAULT_MAX_ARGUMENT_BYTES,
    AssemblingParser,
    cut_to_argument_depth,
)
from .._failures import failure_from_error_object
from .._fields import json_index, json_str
from .._protocol import StopVerdict

__all__ = ["AnthropicParser", "anthropic_stop_verdict"]

_STOP = {
    "end_turn": StopReason.STOP,
    "stop_sequence": StopReason.STOP,
    "pause_turn": StopReason.STOP,
    "refusal": StopReason.STOP,
    "max_tokens": StopReason.LENGTH,
    "tool_use": StopReason.TOOL_USE,
}


def anthropic_stop_verdict(reason: str | None, has_tool_calls: bool) -> StopVerdict:
    """Every documented stop reason mapped; an unknown one is a normal stop and is kept
    as ``provider_stop_reason`` (``pause_turn`` and ``refusal`` stay visible there)."""
    if reason == "model_context_window_exceeded":
        return (
            StopReason.ERROR,
            CONTEXT_WINDOW_EXCEEDED,
            Failure(FailureKind.CONTEXT_OVERFLOW, code=reason),
        )
    return _STOP.get(reason or "end_turn", StopReason.STOP), None, None


_TEXT, _THINKING, _TOOL, _OTHER = 0, 1, 2, 3


class _Slot:
    __slots__ = ("has_delta", "kind", "start_input")

    def __init__(self, kind: int, start_input: str | None = None) -> None:
        self.kind = kind
        self.start_input = start_input
        self.has_delta = False


class AnthropicParser(AssemblingParser):
    """Messages API events in (SSE ``data`` payloads), stream events out."""

    def __init__(
        self,
        model: Model,
        max_argument_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES,
        verdict: Callable[[str | None, bool], StopVerdict] | None = None,
    ) -> None:
        super().__init__(model, max_argument_bytes)
        # The provider's verdict (a subclass may change it), as the native path uses.
        self._verdict = verdict or anthropic_stop_verdict
        self._slots: dict[int, _Slot] = {}
        self._message_id: str | None = None
        self._started = False
        # input, output, cache_read, cache_write: replaced, never added
        self._usage = [0, 0, 0, 0]

    def end_of_stream(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if self.asm.message is None:
            self.asm.fail(ENDED_BEFORE_MESSAGE_STOP, out)
        return out

    # --- internals ----------------------------------------------------------------

    def _payload(self, ev: dict[str, Any], data: bytes, out: list[StreamEvent]) -> None:
        kind = ev.get("type")
        if kind == "content_block_delta":
            self._delta(ev, data, out)
        elif kind == "content_block_start":
            self._block_start(ev, data, out)
        elif kind == "content_block_stop":
            self._block_stop(ev, data, out)
        elif kind == "message_start":
            self._message_start(ev, data)
        elif kind == "message_delta":
            delta = ev.get("delta")
            if isinstance(delta, dict):
                reason = json_str(delta.get("stop_reason"))
                if reason:
                    self.asm.provider_stop_reason = reason
            self._take_usage(ev.get("usage"))
        elif kind == "message_stop":
            asm = self.asm
            stop, error, failure = self._verdict(asm.provider_stop_reason, asm.has_tool_calls)
            asm.finish(stop, out, error, failure)
        elif kind == "error":
            exc = failure_from_error_object(ev.get("error"), self.asm.provider, self.asm.model_id)
            self.asm.fail(exc.message, out, error=exc)
        # ping and event types this version does not know: skipped

    def _message_start(self, ev: dict[str, Any], data: bytes) -> None:
        msg = ev.get("message")
        if not isinstance(msg, dict):
            return
        mid = json_str(msg.get("id"))
        if self._started:
            if mid != self._message_id:
                # Two messages spliced into one body: nothing after this can be trusted.
                raise StreamFormatError(protocol_violation(data))
            return  # the same message announced twice
        self._started = True
        self._message_id = mid
        if mid is not None and self.asm.response_id is None:
            self.asm.response_id = mid
        self._take_usage(msg.get("usage"))

    def _take_usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        u = self._usage
        for i, key in enumerate(
            (
                "input_tokens",
                "output_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
            )
        ):
            value = usage.get(key)
            if type(value) is int:
                u[i] = value
        self.asm.set_usage(u[0], u[1], u[2], u[3], 0)

    def _block_start(self, ev: dict[str, Any], data: bytes, out: list[StreamEvent]) -> None:
        index = json_index(ev.get("index"))
        block = ev.get("content_block")
        if index is None or index in self._slots or not isinstance(block, dict):
            # A block with no index, one started twice, or no block: what follows
            # cannot be placed, so the reply cannot be trusted.
            raise StreamFormatError(protocol_violation(data))
        asm = self.asm
        kind = block.get("type")
        if kind == "text":
            self._slots[index] = _Slot(_TEXT)
            text = json_str(block.get("text"))
            if text:
                asm.text(text, out)
        elif kind == "thinking":
            self._slots[index] = _Slot(_THINKING)
            asm.thinking(json_str(block.get("thinking")) or "", out, new_block=True)
            signature = json_str(block.get("signature"))
            if signature:
                asm.thinking_signature(signature)
        elif kind == "redacted_thinking":
            self._slots[index] = _Slot(_THINKING)
            asm.thinking("", out, new_block=True)
            asm.thinking_signature(json_str(block.get("data")) or "", redacted=True)
        elif kind == "tool_use":
            start = block.get("input")
            start_input = (
                json.dumps(cut_to_argument_depth(start), ensure_ascii=False, separators=(",", ":"))
                if isinstance(start, dict) and start
                else None
            )
            self._slots[index] = _Slot(_TOOL, start_input)
            asm.tool_call(
                index, json_str(block.get("id")) or "", json_str(block.get("name")) or "", None, out
            )
        else:
            self._slots[index] = _Slot(_OTHER)  # server-side and unknown blocks

    def _delta(self, ev: dict[str, Any], data: bytes, out: list[StreamEvent]) -> None:
        index = json_index(ev.get("index"))
        slot = self._slots.get(index) if index is not None else None
        if slot is None:  # a delta for a block never started: its content has no place
            raise StreamFormatError(protocol_violation(data))
        delta = ev.get("delta")
        if not isinstance(delta, Mapping):
            return
        kind = delta.get("type")
        asm = self.asm
        if kind == "text_delta":
            text = json_str(delta.get("text"))
            if slot.kind == _TEXT and text:
                asm.text(text, out)
        elif kind == "input_json_delta":
            part = json_str(delta.get("partial_json"))
            if slot.kind == _TOOL and part is not None:
                slot.has_delta = True
                if part:
                    asm.tool_call(index, None, None, part, out)
        elif kind == "thinking_delta":
            text = json_str(delta.get("thinking"))
            if slot.kind == _THINKING and text:
                asm.thinking(text, out)
        elif kind == "signature_delta":
            signature = json_str(delta.get("signature"))
            if slot.kind == _THINKING and signature:
                asm.thinking_signature(signature)
        # citations_delta, compaction_delta and unknown deltas: skipped

    def _block_stop(self, ev: dict[str, Any], data: bytes, out: list[StreamEvent]) -> None:
        index = json_index(ev.get("index"))
        slot = self._slots.get(index) if index is not None else None
        if slot is None:
            raise StreamFormatError(protocol_violation(data))
        if slot.kind == _TOOL:
            if not slot.has_delta and slot.start_input is not None:
                self.asm.tool_call(index, None, None, slot.start_input, out)
            self.asm.end_tool_call(index, out)
        elif slot.kind != _OTHER:
            self.asm.end_current(out)
