"""The OpenAI chat-completions wire format: request body and a sans-IO chunk parser.

Works for any server that speaks ``/chat/completions`` with ``stream: true``: OpenAI,
OpenRouter, Groq, DeepSeek, Mistral, xAI, vLLM, llama.cpp, Ollama. The parser takes
SSE events (or already-decoded chunk dicts) and returns stream events; it does no I/O.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping, Sequence
from typing import Any

from ._assembly import DEFAULT_MAX_ARGUMENT_BYTES, MessageAssembler, loads_json_object
from ._errors import ProviderError, StreamFormatError
from ._json import dumps
from ._messages import (
    AssistantMessage,
    Context,
    ImageContent,
    Message,
    Model,
    StopReason,
    TextContent,
    ToolCall,
    ToolResultMessage,
    ToolSchema,
    UserContent,
    UserMessage,
)
from ._sse import DEFAULT_MAX_LINE_BYTES, ServerSentEvent, SSEDecoder
from ._stream_events import StreamEvent
from ._wording import (
    DONE_WITHOUT_FINISH,
    ENDED_BEFORE_FINISH,
    ENDED_MID_EVENT,
    unexpected_structure,
)

__all__ = [
    "OpenAIChatParser",
    "PureChatByteParser",
    "WireCache",
    "build_body",
    "build_body_bytes",
    "encode_message",
    "finish_reason_to_stop",
]

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


def finish_reason_to_stop(reason: str, has_tool_calls: bool) -> StopReason:
    stop = _FINISH.get(reason, StopReason.STOP)
    # Some servers (older Ollama, some vLLM templates) say "stop" after tool calls.
    if stop is StopReason.STOP and has_tool_calls:
        return StopReason.TOOL_USE
    return stop


def _int(value: Any) -> int:
    return value if type(value) is int else 0


class OpenAIChatParser:
    """Chat-completion chunks in, stream events out.

    Feed it SSE events with :meth:`feed_event` (or decoded chunks with
    :meth:`feed_chunk`); call :meth:`end_of_stream` when the body ends. The final
    message is on ``.message`` once a done or error event was returned.
    """

    def __init__(self, model: Model, max_argument_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES) -> None:
        self.asm = MessageAssembler(model, max_argument_bytes)
        self._last_key: object = 0

    @property
    def message(self) -> AssistantMessage | None:
        return self.asm.message

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

    def fail(
        self,
        message: str,
        *,
        stop_reason: StopReason = StopReason.ERROR,
        error: BaseException | None = None,
    ) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        self.asm.fail(message, out, stop_reason=stop_reason, error=error)
        return out

    # --- internals --------------------------------------------------------------

    def _done(self, out: list[StreamEvent]) -> None:
        if self.asm.provider_stop_reason is None:
            self.asm.fail(DONE_WITHOUT_FINISH, out)
        else:
            self._finish(out)

    def _finish(self, out: list[StreamEvent]) -> None:
        asm = self.asm
        reason = asm.provider_stop_reason or "stop"
        stop = finish_reason_to_stop(reason, asm.has_tool_calls)
        error = None
        if stop is StopReason.ERROR:
            error = f"the provider stopped the reply: {reason}"
        asm.finish(stop, out, error)

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
                    args = json.dumps(args, ensure_ascii=False, separators=(",", ":"))
            else:
                name = args = None
            asm.tool_call(key, call_id, name, args, out)


_KEY_TYPES = frozenset({int, float, str})  # a bool index is a shape error, as JSON says


def describe_stream_error(err: Any, provider: str, model: str) -> tuple[str, ProviderError]:
    """An ``error`` object inside a stream (OpenRouter, Groq): its message, verbatim."""
    if isinstance(err, Mapping):
        message = str(err.get("message") or json.dumps(err)[:500])
        status = err.get("status_code") or err.get("code")
    else:
        message, status = str(err), None
    exc = ProviderError(
        message,
        status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        provider=provider,
        model=model,
        body=json.dumps(err)[:2000],
    )
    return message, exc


class PureChatByteParser:
    """Bytes of a chat-completions SSE body in, stream events out: the SSE decoder and
    the chunk parser together, in Python. The native parser has the same interface."""

    def __init__(
        self,
        model: Model,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        max_argument_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES,
    ) -> None:
        self._decoder = SSEDecoder(max_line_bytes)
        self._parser = OpenAIChatParser(model, max_argument_bytes)

    @property
    def message(self) -> AssistantMessage | None:
        return self._parser.message

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        try:
            payloads = self._decoder.feed_data(chunk)
        except StreamFormatError as exc:
            out = self._parser.feed_data(getattr(exc, "partial", []))
            if self._parser.message is None:
                out += self._parser.fail(str(exc), error=exc)
            return out
        return self._parser.feed_data(payloads) if payloads else []

    def end_of_stream(self) -> list[StreamEvent]:
        if self._decoder.has_partial and self._parser.message is None:
            return self._parser.fail(ENDED_MID_EVENT)
        return self._parser.end_of_stream()

    def fail(
        self,
        message: str,
        *,
        stop_reason: StopReason = StopReason.ERROR,
        error: BaseException | None = None,
    ) -> list[StreamEvent]:
        return self._parser.fail(message, stop_reason=stop_reason, error=error)


class _ShapeError(Exception):
    """A chunk whose structure cannot be understood (reported with the chunk's text)."""


# --- the request ----------------------------------------------------------------


def _user_parts(content: tuple[UserContent, ...]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for c in content:
        if isinstance(c, TextContent):
            parts.append({"type": "text", "text": c.text})
        else:
            parts.append({"type": "image_url", "image_url": {"url": _image_url(c)}})
    return parts


def _image_url(c: ImageContent) -> str:
    return c.url if c.url is not None else f"data:{c.mime_type};base64,{c.data}"


def _call_arguments(tc: ToolCall) -> str:
    if tc.raw_arguments is not None:
        return tc.raw_arguments  # what the model really sent, even if not valid JSON
    return json.dumps(tc.arguments, ensure_ascii=False, separators=(",", ":"))


def encode_message(m: Message) -> list[dict[str, Any]]:
    """One transcript message as chat-completions messages (zero, one or two)."""
    if isinstance(m, UserMessage):
        if isinstance(m.content, str):
            return [{"role": "user", "content": m.content}]
        return [{"role": "user", "content": _user_parts(m.content)}]
    if isinstance(m, AssistantMessage):
        text = "".join(c.text for c in m.content if isinstance(c, TextContent))
        calls = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": _call_arguments(c)},
            }
            for c in m.content
            if isinstance(c, ToolCall)
        ]
        if not text and not calls:
            return []  # an empty (e.g. aborted before any text) reply: servers reject it
        msg: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            msg["tool_calls"] = calls
        return [msg]
    if isinstance(m, ToolResultMessage):
        text = "".join(c.text for c in m.content if isinstance(c, TextContent))
        images = [c for c in m.content if isinstance(c, ImageContent)]
        if not text:
            text = "(see attached image)" if images else "(no output)"
        out: list[dict[str, Any]] = [
            {"role": "tool", "tool_call_id": m.tool_call_id, "content": text}
        ]
        if images:
            # Tool messages cannot hold images in this API; they follow as a user message.
            out.append(
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": f"Image(s) from tool {m.tool_name}:"},
                        *_user_parts(tuple(images)),
                    ],
                }
            )
        return out
    raise TypeError(f"cannot send a {type(m).__name__} to an openai-chat model; convert it first")


def encode_tool(t: ToolSchema) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": t.name,
            "description": t.description,
            "parameters": dict(t.parameters),
        },
    }


class WireCache:
    """Encoded messages of a growing transcript, reused across calls.

    A transcript only grows between turns, and its records are frozen, so the encoding
    of the messages sent last time is still right: a turn checks by identity that the
    prefix is unchanged (a C-speed scan) and encodes only the new messages. If the
    prefix changed (a ``transform_context`` hook pruned history), it starts over.
    """

    __slots__ = ("joined", "messages")

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.joined = b""

    def encode(self, messages: Sequence[Message]) -> bytes:
        known = self.messages
        k = len(known)
        if len(messages) < k or not all(map(operator.is_, known, messages[:k])):
            known.clear()
            k = 0
            self.joined = b""
        parts = [self.joined] if self.joined else []
        for m in messages[k:]:
            frag = b",".join(dumps(x) for x in encode_message(m))
            if frag:
                parts.append(frag)
            known.append(m)
        self.joined = b",".join(parts)
        return self.joined


def build_body_bytes(
    model: Model,
    context: Context,
    cache: WireCache | None = None,
    **options: Any,
) -> bytes:
    """The request body as bytes; with ``cache``, history is encoded once (see
    :class:`WireCache`), so a turn costs a copy of the history, not a re-encoding."""
    if cache is None:
        return dumps(build_body(model, context, **options))
    head = build_body(model, Context(tools=context.tools), **options)
    head.pop("messages")
    history = cache.encode(context.messages)
    system = (
        dumps({"role": "system", "content": context.system_prompt})
        if context.system_prompt
        else b""
    )
    joined = system + (b"," if system and history else b"") + history
    return b'{"messages":[' + joined + b"]," + dumps(head)[1:]


def build_body(
    model: Model,
    context: Context,
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    reasoning_effort: str | None = None,
    tool_choice: str | Mapping[str, Any] | None = None,
    extra_body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of a streaming ``/chat/completions`` request."""
    messages: list[dict[str, Any]] = []
    if context.system_prompt:
        messages.append({"role": "system", "content": context.system_prompt})
    for m in context.messages:
        messages.extend(encode_message(m))
    body: dict[str, Any] = {
        "model": model.id,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if context.tools:
        body["tools"] = [encode_tool(t) for t in context.tools]
    if tool_choice is not None:
        body["tool_choice"] = tool_choice
    if temperature is not None:
        body["temperature"] = temperature
    limit = max_tokens if max_tokens is not None else model.max_tokens
    if limit is not None:
        body["max_tokens"] = limit
    if reasoning_effort is not None:
        body["reasoning_effort"] = reasoning_effort
    if extra_body:
        body.update(extra_body)
    return body
