"""The OpenAI Responses stream (``event: response.*``) into stream events.

Output items arrive in order: ``message`` items stream text, ``function_call`` items
stream their argument text (the final value in ``function_call_arguments.done`` or the
done item wins over the joined deltas), ``reasoning`` items stream summary or reasoning
text. Items the SDK does not model (web search, MCP, shell, image generation…) are kept
whole but unseen, as redacted thinking, so they can go back to the model that made them.

A reasoning item's signature is ``{"item": <the done item as received>, "next": <the id
of the item that followed it>}`` as compact JSON: the item is replayed exactly, and the
following item keeps its id, which the API checks the pair by. The native core writes
the very same text (see ``native/src/responses.rs``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..._util.json import dumps
from ..._util.wording import CONTEXT_WINDOW_EXCEEDED, ENDED_BEFORE_RESPONSE_DONE, provider_stopped
from ...messages import Failure, FailureKind, Model, StopReason, StreamEvent
from ...wire import DEFAULT_MAX_ARGUMENT_BYTES, AssemblingParser
from .._failures import failure_from_error_object
from .._fields import json_str
from .._protocol import StopVerdict

__all__ = ["ResponsesParser", "error_of_event", "responses_stop_verdict", "signature_payload"]

_KNOWN_ITEMS = frozenset({"message", "function_call", "reasoning"})
_DELTAS = {
    "response.output_text.delta": "message",
    "response.refusal.delta": "message",
    "response.function_call_arguments.delta": "function_call",
    "response.reasoning_summary_text.delta": "reasoning",
    "response.reasoning_text.delta": "reasoning",
}


def responses_stop_verdict(reason: str | None, has_tool_calls: bool) -> StopVerdict:
    """``completed`` (tool use when it called functions), ``max_output_tokens`` (length),
    ``content_filter`` (an error that says so); anything else ends normally and stays
    visible as ``provider_stop_reason``."""
    if reason == "max_output_tokens":
        return StopReason.LENGTH, None, None
    if reason == "content_filter":
        return (
            StopReason.ERROR,
            provider_stopped(reason),
            Failure(FailureKind.CONTENT_FILTER, code=reason),
        )
    if reason == "context_length_exceeded":
        return (
            StopReason.ERROR,
            CONTEXT_WINDOW_EXCEEDED,
            Failure(FailureKind.CONTEXT_OVERFLOW, code=reason),
        )
    return (StopReason.TOOL_USE if has_tool_calls else StopReason.STOP), None, None


def error_of_event(ev: Any) -> dict[str, Any]:
    """The error object of an ``error`` event or of a failed response's event."""
    if not isinstance(ev, dict):
        ev = {}
    if ev.get("type") == "error":
        err = ev.get("error")
        return err if isinstance(err, dict) else ev
    response = ev.get("response")
    err = response.get("error") if isinstance(response, dict) else None
    if isinstance(err, dict) and err:
        return err
    return {"message": "the response failed without saying why"}


def signature_payload(item: Any, following: str | None) -> str:
    return dumps({"item": item, "next": following}).decode()


def _index(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None


class ResponsesParser(AssemblingParser):
    """Responses API events in (SSE ``data`` payloads), stream events out."""

    def __init__(
        self,
        model: Model,
        max_argument_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES,
        verdict: Callable[[str | None, bool], StopVerdict] | None = None,
    ) -> None:
        super().__init__(model, max_argument_bytes)
        self._verdict = verdict or responses_stop_verdict
        self._kinds: dict[int, str] = {}  # output_index -> item type
        self._reasoning: Any = None  # a done reasoning item waiting for its follower
        self._error: Any = None  # the first ``error`` event, until the response ends

    def end_of_stream(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if self.asm.message is None:
            if self._error is not None:
                self._fail_with(error_of_event(self._error), out)
            else:
                self.asm.fail(ENDED_BEFORE_RESPONSE_DONE, out)
        return out

    # --- internals ----------------------------------------------------------------

    def _payload(self, ev: dict[str, Any], data: bytes, out: list[StreamEvent]) -> None:
        kind = ev.get("type")
        asm = self.asm
        want = _DELTAS.get(kind) if kind.__class__ is str else None
        if want is not None:  # the hot path: one delta
            delta: Any = ev.get("delta")
            index: Any = ev.get("output_index")
            # ``type is int``: a bool or a float must not find an item (1.0 == 1).
            ok = delta.__class__ is str and delta and index.__class__ is int
            if ok and self._kinds.get(index) == want:
                if want == "message":
                    asm.text(delta, out)
                elif want == "function_call":
                    asm.tool_call(index, None, None, delta, out)
                else:
                    asm.thinking(delta, out)
        elif kind == "response.function_call_arguments.done":
            index = _index(ev.get("output_index"))
            final = json_str(ev.get("arguments"))
            if (
                index is not None
                and final is not None
                and self._kinds.get(index) == "function_call"
            ):
                asm.set_tool_arguments(index, final)
        elif kind == "response.output_item.added":
            self._item_added(ev, out)
        elif kind == "response.output_item.done":
            self._item_done(ev, out)
        elif kind in ("response.created", "response.in_progress", "response.queued"):
            self._response_head(ev.get("response"))
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            self._response_end(ev, out)
        elif kind == "error" and self._error is None:
            self._error = ev
        # every other event (item progress, annotations, part boundaries): skipped

    def _response_head(self, response: Any) -> None:
        if isinstance(response, dict):
            rid = json_str(response.get("id"))
            if rid and self.asm.response_id is None:
                self.asm.response_id = rid

    def _settle_reasoning(self, following: str | None) -> None:
        if self._reasoning is not None:
            self.asm.thinking_signature(signature_payload(self._reasoning, following))
            self._reasoning = None

    def _item_added(self, ev: dict[str, Any], out: list[StreamEvent]) -> None:
        index = _index(ev.get("output_index"))
        item = ev.get("item")
        if index is None or index in self._kinds or not isinstance(item, dict):
            return
        kind = json_str(item.get("type")) or ""
        self._settle_reasoning(json_str(item.get("id")))
        self._kinds[index] = kind
        asm = self.asm
        if kind == "message":
            asm.end_current(out)  # each message item is its own text block
        elif kind == "reasoning":
            asm.thinking("", out, new_block=True)
        elif kind == "function_call":
            asm.tool_call(
                index,
                json_str(item.get("call_id")) or "",
                json_str(item.get("name")) or "",
                None,
                out,
            )

    def _item_done(self, ev: dict[str, Any], out: list[StreamEvent]) -> None:
        index = _index(ev.get("output_index"))
        item = ev.get("item")
        if index is None or not isinstance(item, dict):
            return
        kind = self._kinds.get(index)
        asm = self.asm
        if kind is None:  # done without added: take it as both
            self._item_added({"output_index": index, "item": item}, out)
            kind = self._kinds.get(index)
        if kind == "function_call":
            final = json_str(item.get("arguments"))
            if final is not None:
                asm.set_tool_arguments(index, final)
            asm.end_tool_call(index, out)
        elif kind == "reasoning":
            self._reasoning = item  # signed once the next item (or the end) is known
        elif kind not in _KNOWN_ITEMS:
            self._settle_reasoning(json_str(item.get("id")))
            asm.thinking("", out, new_block=True)
            asm.thinking_signature(signature_payload(item, None), redacted=True)
            asm.end_current(out)

    def _response_end(self, ev: dict[str, Any], out: list[StreamEvent]) -> None:
        asm = self.asm
        response = ev.get("response")
        self._settle_reasoning(None)
        if not isinstance(response, dict):
            response = {}
        self._response_head(response)
        self._take_usage(response.get("usage"))
        status = json_str(response.get("status"))
        details = response.get("incomplete_details")
        reason = json_str(details.get("reason")) if isinstance(details, dict) else None
        asm.provider_stop_reason = reason if status == "incomplete" and reason else status
        if status == "failed" or self._error is not None:
            self._fail_with(error_of_event(self._error or ev), out)
            return
        stop, error, failure = self._verdict(asm.provider_stop_reason, asm.has_tool_calls)
        asm.finish(stop, out, error, failure)

    def _fail_with(self, err: dict[str, Any], out: list[StreamEvent]) -> None:
        exc = failure_from_error_object(err, self.asm.provider, self.asm.model_id)
        self.asm.fail(exc.message, out, error=exc)

    def _take_usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return

        def count(value: Any) -> int:
            return value if type(value) is int and 0 <= value < 1 << 63 else 0

        total_in = count(usage.get("input_tokens"))
        details = usage.get("input_tokens_details")
        cached = count(details.get("cached_tokens")) if isinstance(details, dict) else 0
        out_details = usage.get("output_tokens_details")
        reasoning = (
            count(out_details.get("reasoning_tokens")) if isinstance(out_details, dict) else 0
        )
        self.asm.set_usage(
            max(total_in - cached, 0), count(usage.get("output_tokens")), cached, 0, reasoning
        )
