"""The OpenAI chat-completions stream: a sans-IO chunk parser.

Works for any server that speaks ``/chat/completions`` with ``stream: true``: OpenAI,
OpenRouter, Groq, DeepSeek, Mistral, xAI, vLLM, llama.cpp, Ollama. The parser takes
SSE payloads (or already-decoded chunk dicts) and returns stream events; it does no I/O.
The native core's ``openai-chat`` mode (``native/src/chat.rs``) follows the same rules.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ..._util.wording import (
    DONE_WITHOUT_FINISH,
    ENDED_BEFORE_FINISH,
    provider_stopped,
    unexpected_structure,
)
from ...messages import (
    Failure,
    FailureKind,
    Model,
    ProviderError,
    StopReason,
    StreamEvent,
    StreamFormatError,
)
from ...wire import (
    DEFAULT_MAX_ARGUMENT_BYTES,
    AssemblingParser,
    ServerSentEvent,
    cut_to_argument_depth,
    loads_json_object,
)
from .._failures import failure_from_error_object
from .._protocol import StopVerdict

__all__ = ["OpenAIChatParser", "chat_stop_verdict", "describe_stream_error"]

_FINISH = {
    "stop": StopReason.STOP,
    "end_turn": StopReason.STOP,
    "eos": StopReason.STOP,
    "length": StopReason.LENGTH,
    "max_tokens": StopReason.LENGTH,
    "tool_calls": StopReason.TOOL_USE,
    "function_call": StopReason.TOOL_USE,
    "tool_use": StopReason.TOOL_USE,
    "content_filter": StopReason.ERROR,
}


def chat_stop_verdict(reason: str | None, has_tool_calls: bool) -> StopVerdict:
    """A chat-completions ``finish_reason`` as our stop reason; an unknown one is a
    normal stop (and kept as ``provider_stop_reason``)."""
    stop = _FINISH.get(reason or "stop", StopReason.STOP)
    # Some servers (older Ollama, some vLLM templates) say "stop" after tool calls.
    if stop is StopReason.STOP and has_tool_calls:
        return StopReason.TOOL_USE, None, None
    if stop is StopReason.ERROR:
        return (
            stop,
            provider_stopped(reason or ""),
            Failure(FailureKind.CONTENT_FILTER, code=reason),
        )
    return stop, None, None


def _int(value: Any) -> int:
    return value if type(value) is int else 0


class OpenAIChatParser(AssemblingParser):
    """Chat-completion chunks in, stream events out.

    Feed it SSE events with :meth:`feed_event` (or decoded chunks with
    :meth:`feed_chunk`); call :meth:`end_of_stream` when the body ends. The final
    message is on ``.message`` once a done or error event was returned.
    """

    def __init__(
        self,
        model: Model,
        max_argument_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES,
        verdict: Callable[[str | None, bool], StopVerdict] | None = None,
    ) -> None:
        super().__init__(model, max_argument_bytes)
        self._last_key: object = 0
        # The provider's verdict (a subclass may change it), as the native path uses.
        self._verdict = verdict or chat_stop_verdict

    def feed_events(self, events: list[ServerSentEvent]) -> list[StreamEvent]:
        return self.feed_data([ev.data.encode() for ev in events])

    def feed_data(self, payloads: list[bytes]) -> list[StreamEvent]:
        """The fast path: raw ``data`` payloads straight from :meth:`SSEDecoder.feed_data`."""
        out: list[StreamEvent] = []
        asm = self.asm
        for data in payloads:
            if asm.message is not None:
                break
            if data == b"[DONE]":
                self._done(out)
                break
            try:
                chunk = loads_json_object(data)
            except StreamFormatError as exc:
                asm.fail(str(exc), out, error=exc)
                break
            try:
                self._chunk(chunk, out)
            except _ShapeError:
                shape = StreamFormatError(unexpected_structure(data))
                asm.fail(str(shape), out, error=shape)
                break
            except StreamFormatError as exc:  # a bound broken mid-chunk (tool arguments)
                asm.fail(str(exc), out, error=exc)
                break
        return out

    def feed_event(self, event: ServerSentEvent) -> list[StreamEvent]:
        return self.feed_events([event])

    def feed_chunk(self, chunk: Mapping[str, Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if self.asm.message is None:
            try:
                self._chunk(chunk, out)
            except _ShapeError:
                exc = StreamFormatError(unexpected_structure(json.dumps(chunk)))
                self.asm.fail(str(exc), out, error=exc)
            except StreamFormatError as exc:  # a bound broken mid-chunk (tool arguments)
                self.asm.fail(str(exc), out, error=exc)
        return out

    def end_of_stream(self) -> list[StreamEvent]:
        """The body ended (EOF). Without a finish reason, that is a truncated reply."""
        out: list[StreamEvent] = []
        asm = self.asm
        if asm.message is not None:
            return out
        if asm.provider_stop_reason is None:
            asm.fail(ENDED_BEFORE_FINISH, out)
        else:
            self._finish(out)
        return out

    # --- internals --------------------------------------------------------------

    def _done(self, out: list[StreamEvent]) -> None:
        if self.asm.provider_stop_reason is None:
            self.asm.fail(DONE_WITHOUT_FINISH, out)
        else:
            self._finish(out)

    def _finish(self, out: list[StreamEvent]) -> None:
        asm = self.asm
        stop, error, failure = self._verdict(asm.provider_stop_reason, asm.has_tool_calls)
        asm.finish(stop, out, error, failure)

    def _chunk(self, c: Mapping[str, Any], out: list[StreamEvent]) -> None:
        """Apply one chunk. Fields of an unexpected JSON type are ignored where that is
        harmless and raise :class:`_ShapeError` where the chunk cannot be understood;
        the native parser follows exactly the same rules."""
        asm = self.asm
        err = c.get("error")
        if err is not None:
            self._stream_error(err, out)
            return
        if asm.response_id is None:
            rid = c.get("id")
            if isinstance(rid, str):
                asm.response_id = rid
        usage = c.get("usage")
        if usage is None:
            xg = c.get("x_groq")
            usage = xg.get("usage") if isinstance(xg, dict) else None
        if usage and isinstance(usage, dict):
            self._usage(usage)
        choices = c.get("choices")
        if not choices:
            return
        if not isinstance(choices, list) or not isinstance(choices[0], dict):
            raise _ShapeError
        choice = choices[0]
        delta = choice.get("delta")
        if delta:
            if not isinstance(delta, dict):
                raise _ShapeError
            content = delta.get("content")
            if len(delta) == 1 and content.__class__ is str:
                # The common case, a text-only delta: skip the other fields.
                if content:
                    asm.text(content, out)
            else:
                self._delta(delta, content, out)
        reason = choice.get("finish_reason")
        if reason and isinstance(reason, str):
            asm.provider_stop_reason = reason

    def _delta(self, delta: dict[str, Any], content: Any, out: list[StreamEvent]) -> None:
        asm = self.asm
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning:
            if isinstance(reasoning, str):
                asm.thinking(reasoning, out)
        else:
            details = delta.get("reasoning_details")
            if isinstance(details, list):
                self._reasoning_details(details, out)
        if content:
            if isinstance(content, str):
                asm.text(content, out)
            elif isinstance(content, list):
                self._content_parts(content, out)
            else:
                raise _ShapeError
        calls = delta.get("tool_calls")
        if calls:
            if not isinstance(calls, list):
                raise _ShapeError
            self._tool_calls(calls, out)
        refusal = delta.get("refusal")
        if refusal and isinstance(refusal, str):
            asm.text(refusal, out)

    def _stream_error(self, err: Any, out: list[StreamEvent]) -> None:
        message, exc = describe_stream_error(err, self.asm.provider, self.asm.model_id)
        self.asm.fail(message, out, error=exc)

    def _usage(self, u: Mapping[str, Any]) -> None:
        prompt = _int(u.get("prompt_tokens"))
        details = u.get("prompt_tokens_details")
        if not isinstance(details, dict):
            details = {}
        cached = _int(details.get("cached_tokens"))
        if not cached:
            cached = _int(u.get("prompt_cache_hit_tokens"))  # DeepSeek's older field
        written = _int(details.get("cache_write_tokens"))
        out_details = u.get("completion_tokens_details")
        if not isinstance(out_details, dict):
            out_details = {}
        self.asm.set_usage(
            max(prompt - cached - written, 0),
            _int(u.get("completion_tokens")),
            cached,
            written,
            _int(out_details.get("reasoning_tokens")),
        )

    def _reasoning_details(self, details: list[Any], out: list[StreamEvent]) -> None:
        for d in details:
            if not isinstance(d, dict):
                continue
            kind = d.get("type")
            if kind == "reasoning.text":
                text = d.get("text")
            elif kind == "reasoning.summary":
                text = d.get("summary")
            else:
                continue
            if text and isinstance(text, str):
                self.asm.thinking(text, out)

    def _content_parts(self, parts: list[Any], out: list[StreamEvent]) -> None:
        # Mistral sends content as typed parts: text, and thinking with nested text parts.
        for p in parts:
            if not isinstance(p, dict):
                continue
            kind = p.get("type")
            if kind == "text":
                text = p.get("text")
                if text and isinstance(text, str):
                    self.asm.text(text, out)
            elif kind == "thinking":
                inner = p.get("thinking")
                if isinstance(inner, str):
                    if inner:
                        self.asm.thinking(inner, out)
                elif isinstance(inner, list):
                    for q in inner:
                        if isinstance(q, dict):
                            text = q.get("text")
                            if text and isinstance(text, str):
                                self.asm.thinking(text, out)

    def _tool_calls(self, calls: list[Any], out: list[StreamEvent]) -> None:
        asm = self.asm
        for tc in calls:
            if tc.__class__ is not dict:
                raise _ShapeError
            key = tc.get("index")
            call_id = tc.get("id")
            if call_id is not None and call_id.__class__ is not str:
                call_id = None
            if key is None:
                # No index (some Mistral-style servers): a new id starts a new call,
                # fragments without one continue the last.
                key = call_id if call_id else self._last_key
            elif key.__class__ not in _KEY_TYPES:
                raise _ShapeError
            self._last_key = key
            fn = tc.get("function")
            if fn is None:
                name = args = None
            elif fn.__class__ is dict:
                name = fn.get("name")
                if name is not None and name.__class__ is not str:
                    name = None
                args = fn.get("arguments")
                if args is not None and args.__class__ is not str:
                    # A server that sends an object, not text: keep it as compact JSON.
                    args = json.dumps(
                        cut_to_argument_depth(args), ensure_ascii=False, separators=(",", ":")
                    )
            else:
                name = args = None
            asm.tool_call(key, call_id, name, args, out)


_KEY_TYPES = frozenset({int, float, str})  # a bool index is a shape error, as JSON says


def describe_stream_error(err: Any, provider: str, model: str) -> tuple[str, ProviderError]:
    """An ``error`` object inside a stream (OpenRouter, Groq): its message, verbatim."""
    exc = failure_from_error_object(err, provider, model)
    return exc.message, exc


class _ShapeError(Exception):
    """A chunk whose structure cannot be understood (reported with the chunk's text)."""
