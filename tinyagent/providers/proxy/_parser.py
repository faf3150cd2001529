"""The proxy protocol's events: a sans-IO parser of the SSE payloads a relay sends.

``start`` → per content block (``text_start`` / ``thinking_start`` / ``toolcall_start``
with its ``contentIndex``, deltas, the matching ``*_end``) → ``done`` (``reason``,
``usage``) or ``error`` (``reason``, ``errorMessage``, ``usage``). A delta or an end for a
block that is not the open one of its kind is a broken stream (its content has no
place); unknown event types are skipped. Tool arguments are joined from their deltas and
parsed once, at the end. Both stop-reason dialects are read (the seed's ``tool_use``,
pi's ``toolUse``; the word is kept as ``provider_stop_reason``), and the extensions our
relay adds (``failure``, ``responseId``, ``redacted``) when present. An ``error`` event
ends the reply as an error, with its usage. A body that ends without ``done`` or
``error`` is a truncated reply. The native core's ``proxy`` mode (``native/src/proxy.rs``)
follows exactly these rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..._util.wording import ENDED_BEFORE_DONE, protocol_violation
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
from .._failures import failure_from_error_object
from .._fields import json_count, json_index, json_str
from .._protocol import StopVerdict

__all__ = ["ProxyParser", "proxy_stop_verdict", "relay_failure"]

_STOP = {
    "stop": StopReason.STOP,
    "complete": StopReason.STOP,
    "length": StopReason.LENGTH,
    "tool_use": StopReason.TOOL_USE,
    "toolUse": StopReason.TOOL_USE,
    "tool_calls": StopReason.TOOL_USE,
}

_USAGE_KEYS = (
    ("input",),
    ("output",),
    ("cache_read", "cacheRead"),
    ("cache_write", "cacheWrite"),
    ("reasoning",),
)


def proxy_stop_verdict(reason: str | None, has_tool_calls: bool) -> StopVerdict:
    """The relay's stop reason, in either dialect; an unknown one is a normal stop (kept
    as ``provider_stop_reason``)."""
    return _STOP.get(reason or "stop", StopReason.STOP), None, None


def relay_failure(ev: dict[str, Any], provider: str, model: str) -> ProviderError:
    """The error an ``error`` event stands for: its words, and its typed failure when
    our relay sent one (a rate limit stays a rate limit through the relay)."""
    message = json_str(ev.get("errorMessage")) or "the relay reported an error without a message"
    raw = ev.get("failure")
    if not isinstance(raw, dict):  # a relay that only words it: classified by its words
        return failure_from_error_object({"message": message}, provider, model)
    try:
        kind = FailureKind(str(raw.get("kind")))
    except ValueError:
        kind = FailureKind.UNKNOWN
    status = raw.get("status")
    retry = raw.get("retryAfter")
    failure = Failure(
        kind,
        status=status if type(status) is int else None,
        code=json_str(raw.get("code")),
        retry_after=float(retry) if isinstance(retry, int | float) and retry >= 0 else None,
    )
    return ProviderError(message, provider=provider, model=model, failure=failure)


_TEXT, _THINKING, _TOOL = 0, 1, 2


class ProxyParser(AssemblingParser):
    """Proxy events in (SSE ``data`` payloads), stream events out."""

    def __init__(
        self,
        model: Model,
        max_argument_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES,
        verdict: Callable[[str | None, bool], StopVerdict] | None = None,
    ) -> None:
        super().__init__(model, max_argument_bytes)
        self._verdict = verdict or proxy_stop_verdict
        self._kinds: dict[int, int] = {}  # contentIndex -> kind, for every block started
        self._open: int | None = None  # the open text or thinking block's contentIndex
        self._tools_open: set[int] = set()

    def end_of_stream(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if self.asm.message is None:
            self.asm.fail(ENDED_BEFORE_DONE, out)
        return out

    def _payload(self, ev: dict[str, Any], data: bytes, out: list[StreamEvent]) -> None:
        kind = ev.get("type")
        asm = self.asm
        if kind == "text_delta" or kind == "thinking_delta":
            want = _TEXT if kind == "text_delta" else _THINKING
            if self._open is None or self._open != json_index(ev.get("contentIndex")):
                raise StreamFormatError(protocol_violation(data))
            if self._kinds[self._open] != want:
                raise StreamFormatError(protocol_violation(data))
            delta = json_str(ev.get("delta"))
            if delta:
                if want == _TEXT:
                    asm.text(delta, out)
                else:
                    asm.thinking(delta, out)
        elif kind == "toolcall_delta":
            index = json_index(ev.get("contentIndex"))
            if index is None or index not in self._tools_open:
                raise StreamFormatError(protocol_violation(data))
            delta = json_str(ev.get("delta"))
            if delta:
                asm.tool_call(index, None, None, delta, out)
        elif kind in ("text_start", "thinking_start", "toolcall_start"):
            self._start(kind, ev, data, out)
        elif kind in ("text_end", "thinking_end"):
            index = json_index(ev.get("contentIndex"))
            want = _TEXT if kind == "text_end" else _THINKING
            if index is None or index != self._open or self._kinds[index] != want:
                raise StreamFormatError(protocol_violation(data))
            signature = json_str(ev.get("contentSignature"))
            if want == _THINKING and signature:
                asm.thinking_signature(signature, redacted=ev.get("redacted") is True)
            asm.end_current(out)
            self._open = None
        elif kind == "toolcall_end":
            index = json_index(ev.get("contentIndex"))
            if index is None or index not in self._tools_open:
                raise StreamFormatError(protocol_violation(data))
            self._tools_open.discard(index)
            asm.end_tool_call(index, out)
        elif kind == "done":
            reason = self._meta(ev)
            stop, error, failure = self._verdict(reason, asm.has_tool_calls)
            asm.finish(stop, out, error, failure)
        elif kind == "error":
            self._meta(ev)
            exc = relay_failure(ev, asm.provider, asm.model_id)
            asm.fail(exc.message, out, error=exc)
        # start, and event types this version does not know: skipped

    def _start(self, kind: str, ev: dict[str, Any], data: bytes, out: list[StreamEvent]) -> None:
        index = json_index(ev.get("contentIndex"))
        if index is None or index in self._kinds or self._open is not None:
            # No place, a block started twice, or one started inside another.
            raise StreamFormatError(protocol_violation(data))
        asm = self.asm
        if kind == "toolcall_start":
            self._kinds[index] = _TOOL
            self._tools_open.add(index)
            asm.tool_call(
                index, json_str(ev.get("id")) or "", json_str(ev.get("toolName")) or "", None, out
            )
            return
        if kind == "text_start":
            self._kinds[index] = _TEXT
            asm.start_text(out)
        else:
            self._kinds[index] = _THINKING
            asm.thinking("", out, new_block=True)
        self._open = index

    def _meta(self, ev: dict[str, Any]) -> str | None:
        """Take the end event's usage and ids; its ``reason``."""
        asm = self.asm
        reason = json_str(ev.get("reason"))
        asm.provider_stop_reason = reason
        asm.response_id = json_str(ev.get("responseId"))
        usage = ev.get("usage")
        if isinstance(usage, dict):
            counts = [0, 0, 0, 0, 0]
            for i, keys in enumerate(_USAGE_KEYS):
                for key in keys:
                    if key in usage:
                        counts[i] = json_count(usage[key])
                        break
            asm.set_usage(*counts)
        return reason
