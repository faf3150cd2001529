"""Provider-neutral assembly of one assistant message from deltas.

Each provider's chunk parser (OpenAI chat, Anthropic messages) decodes its own wire
format and calls into :class:`MessageAssembler`, which keeps the content blocks, emits
the stream events and builds the final :class:`AssistantMessage`. Text and argument
fragments are appended to lists and joined once at the end, so the work per delta is
constant and the total is linear in the reply (never re-parsing from the start).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs

from .._util.json import json_depth, loads, nested_too_deep, without_lone_surrogates
from .._util.wording import arguments_too_large, chunk_not_object, malformed_chunk
from ..messages import (
    AssistantContent,
    AssistantMessage,
    DoneEvent,
    ErrorEvent,
    Failure,
    FailureKind,
    Model,
    ModelCost,
    StopReason,
    StreamEvent,
    StreamFormatError,
    TextContent,
    TextDeltaEvent,
    TextEndEvent,
    TextStartEvent,
    ThinkingContent,
    ThinkingDeltaEvent,
    ThinkingEndEvent,
    ThinkingStartEvent,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
    Usage,
)
from ._think_tags import ThinkTagSplitter

__all__ = [
    "DEFAULT_MAX_ARGUMENT_BYTES",
    "MAX_ARGUMENT_DEPTH",
    "AssemblingParser",
    "MessageAssembler",
    "build_message",
    "cut_to_argument_depth",
    "failure_of",
    "loads_json_object",
    "parse_tool_arguments",
    "priced_usage",
]

DEFAULT_MAX_ARGUMENT_BYTES = 16 * 1024 * 1024

_TEXT = 0
_THINKING = 1
_TOOL = 2


class _Block:
    __slots__ = ("id", "index", "kind", "name", "open", "parts", "redacted", "signature", "size")

    def __init__(self, kind: int, index: int) -> None:
        self.kind = kind
        self.index = index
        self.parts: list[str] = []
        self.id = ""
        self.name = ""
        self.signature: str | None = None
        self.redacted = False
        self.open = True
        self.size = 0


MAX_ARGUMENT_DEPTH = 128
"""Tool arguments nested deeper than this are refused (an error result teaches the
model): no tool schema needs more, and deeper values could not be re-encoded, checked
or handed on safely (orjson, jsonschema and the standard library all recurse)."""


_TOO_DEEP = f"arguments are {nested_too_deep(MAX_ARGUMENT_DEPTH)}"


def parse_tool_arguments(call_id: str, name: str, text: str) -> ToolCall:
    """Parse a tool call's argument text once, keeping it verbatim if it is not an object.

    An empty text means "no arguments" (``{}``); anything else that is not a JSON object,
    or is nested more than ``MAX_ARGUMENT_DEPTH`` levels, is kept in ``raw_arguments``
    with ``arguments_error`` saying what was wrong. Lone surrogate escapes become U+FFFD
    (see :mod:`tinyagent._util.json`).
    """
    if not text.strip():
        return ToolCall(call_id, name, {})
    try:
        # The standard library, not orjson: arguments must come back exactly (orjson
        # turns integers past 64 bits into floats). It runs once per call, not per chunk.
        value = json.loads(text)
    except RecursionError:
        return _unusable(call_id, name, text, _TOO_DEEP)
    except ValueError as exc:
        return _unusable(call_id, name, text, f"arguments are not valid JSON ({exc})")
    if not isinstance(value, dict):
        why = f"arguments must be a JSON object, got {type(value).__name__}"
        return _unusable(call_id, name, text, why)
    # Brackets bound the depth from above: most calls skip the exact walk.
    brackets = text.count("[") + text.count("{")
    if brackets > MAX_ARGUMENT_DEPTH and json_depth(value) > MAX_ARGUMENT_DEPTH:
        return _unusable(call_id, name, text, _TOO_DEEP)
    if "\\u" in text:
        value = without_lone_surrogates(value)
    return ToolCall(call_id, name, value)


def _unusable(call_id: str, name: str, text: str, why: str) -> ToolCall:
    return ToolCall(call_id, name, {}, raw_arguments=text, arguments_error=why)


def cut_to_argument_depth(value: Any) -> Any:
    """A tool input given whole (not as text) with its containers below the argument
    depth limit emptied: its text is then still too deep, and says so when parsed,
    while staying small enough for any encoder. Recursion stops at the limit."""

    def cut(v: Any, level: int) -> Any:
        if isinstance(v, dict):
            return (
                {} if level > MAX_ARGUMENT_DEPTH else {k: cut(x, level + 1) for k, x in v.items()}
            )
        if isinstance(v, list):
            return [] if level > MAX_ARGUMENT_DEPTH else [cut(x, level + 1) for x in v]
        return v

    return cut(value, 1)


class MessageAssembler:
    """The mutable state of one assistant message being streamed.

    Methods append the events they cause to ``out``; a provider parser passes one list
    per feed so that a whole read costs one list. Once :meth:`finish` or :meth:`fail`
    ran, ``message`` holds the final message and further input is ignored.
    """

    def __init__(self, model: Model, max_argument_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES) -> None:
        self.model = model
        self.model_id = model.id
        self.provider = model.provider_name
        self._max_args = max_argument_bytes
        self._blocks: list[_Block] = []
        self._current: _Block | None = None  # the open text or thinking block
        self._tools: dict[object, _Block] = {}
        self.usage = priced_usage(0, 0, 0, 0, 0, model.cost)
        self.provider_stop_reason: str | None = None
        self.response_id: str | None = None
        self.message: AssistantMessage | None = None
        self._tags = ThinkTagSplitter() if model.think_tags else None

    @property
    def finished(self) -> bool:
        return self.message is not None

    # --- deltas ---------------------------------------------------------------

    def _open(self, kind: int, out: list[StreamEvent]) -> _Block:
        cur = self._current
        if cur is not None:
            self._close(cur, out)
        b = _Block(kind, len(self._blocks))
        self._blocks.append(b)
        self._current = b
        out.append(TextStartEvent(b.index) if kind == _TEXT else ThinkingStartEvent(b.index))
        return b

    def text(self, delta: str, out: list[StreamEvent]) -> None:
        if self._tags is not None:
            for thinking, piece in self._tags.feed(delta):
                if thinking:
                    self.thinking(piece, out)
                else:
                    self._text(piece, out)
            return
        self._text(delta, out)

    def _flush_tags(self, out: list[StreamEvent]) -> None:
        if self._tags is not None:
            for thinking, piece in self._tags.flush():
                if thinking:
                    self.thinking(piece, out)
                else:
                    self._text(piece, out)

    def _text(self, delta: str, out: list[StreamEvent]) -> None:
        b = self._current
        if b is None or b.kind != _TEXT:
            b = self._open(_TEXT, out)
        b.parts.append(delta)
        out.append(TextDeltaEvent(b.index, delta))

    def start_text(self, out: list[StreamEvent]) -> None:
        """Open a new text block now, before its first delta (a format that announces
        blocks, so that an empty one still has its place)."""
        self._open(_TEXT, out)

    def thinking(self, delta: str, out: list[StreamEvent], *, new_block: bool = False) -> None:
        b = self._current
        if new_block or b is None or b.kind != _THINKING:
            b = self._open(_THINKING, out)
        if delta:
            b.parts.append(delta)
            out.append(ThinkingDeltaEvent(b.index, delta))

    def thinking_signature(self, signature: str, *, redacted: bool = False) -> None:
        """Attach (or extend) the signature of the current thinking block."""
        b = self._current
        if b is None or b.kind != _THINKING:
            return
        b.signature = (b.signature or "") + signature
        b.redacted = b.redacted or redacted

    def end_current(self, out: list[StreamEvent]) -> None:
        """End the open text/thinking block (providers with explicit block stops)."""
        if self._current is not None:
            self._close(self._current, out)

    def tool_call(
        self,
        key: object,
        call_id: str | None,
        name: str | None,
        arguments: str | None,
        out: list[StreamEvent],
    ) -> None:
        """Add to the tool call identified by ``key`` (the provider's index)."""
        b = self._tools.get(key)
        if b is None:
            if self._current is not None:
                self._close(self._current, out)
            b = _Block(_TOOL, len(self._blocks))
            b.id = call_id or ""
            b.name = name or ""
            self._blocks.append(b)
            self._tools[key] = b
            out.append(ToolCallStartEvent(b.index, b.id, b.name))
        elif not b.open:
            return  # its end was announced (content_block_stop): the block is final
        else:
            if call_id and not b.id:
                b.id = call_id
            if name and not b.name:
                b.name = name
        if arguments:
            b.size += len(arguments)
            if b.size > self._max_args:
                raise StreamFormatError(arguments_too_large(b.name or b.id, self._max_args))
            b.parts.append(arguments)
            out.append(ToolCallDeltaEvent(b.index, arguments))

    def set_tool_arguments(self, key: object, arguments: str) -> None:
        """The tool call's final argument text, which replaces the joined fragments (a
        format that restates it at the end: what it restates is what counts)."""
        b = self._tools.get(key)
        if b is None or not b.open:
            return
        if len(arguments) > self._max_args:
            raise StreamFormatError(arguments_too_large(b.name or b.id, self._max_args))
        b.parts = [arguments]
        b.size = len(arguments)

    def end_tool_call(self, key: object, out: list[StreamEvent]) -> None:
        b = self._tools.get(key)
        if b is not None and b.open:
            self._close(b, out)

    @property
    def has_tool_calls(self) -> bool:
        return bool(self._tools)

    # --- block and message ends --------------------------------------------------

    def _close(self, b: _Block, out: list[StreamEvent]) -> None:
        if self._current is b:
            self._current = None
        if not b.open:
            return
        b.open = False
        text = "".join(b.parts)
        b.parts = [text]
        if b.kind == _TEXT:
            out.append(TextEndEvent(b.index, TextContent(text)))
        elif b.kind == _THINKING:
            out.append(ThinkingEndEvent(b.index, ThinkingContent(text, b.signature, b.redacted)))
        else:
            out.append(ToolCallEndEvent(b.index, parse_tool_arguments(b.id, b.name, text)))

    def _content(self) -> tuple[AssistantContent, ...]:
        content: list[AssistantContent] = []
        for b in self._blocks:
            text = "".join(b.parts)
            if b.kind == _TEXT:
                content.append(TextContent(text))
            elif b.kind == _THINKING:
                content.append(ThinkingContent(text, b.signature, b.redacted))
            else:
                content.append(parse_tool_arguments(b.id, b.name, text))
        return tuple(content)

    def _close_all(self, out: list[StreamEvent]) -> None:
        self._flush_tags(out)
        for b in self._blocks:
            if b.open:
                self._close(b, out)

    def set_usage(
        self, input: int, output: int, cache_read: int, cache_write: int, reasoning: int
    ) -> None:
        self.usage = priced_usage(
            input, output, cache_read, cache_write, reasoning, self.model.cost
        )

    def finish(
        self,
        stop_reason: StopReason,
        out: list[StreamEvent],
        error_message: str | None = None,
        failure: Failure | None = None,
    ) -> AssistantMessage:
        """End the message normally (or, for ``stop_reason=error``, with the provider's
        own verdict such as a content filter)."""
        if self.message is not None:
            return self.message
        self._close_all(out)
        msg = self._build(stop_reason, error_message, None, failure)
        self.message = msg
        if stop_reason in (StopReason.ERROR, StopReason.ABORTED):
            out.append(ErrorEvent(msg))
        else:
            out.append(DoneEvent(msg))
        return msg

    def fail(
        self,
        error_message: str,
        out: list[StreamEvent],
        *,
        stop_reason: StopReason = StopReason.ERROR,
        error: BaseException | None = None,
        failure: Failure | None = None,
    ) -> AssistantMessage:
        """End the message in failure, keeping every block received so far."""
        if self.message is not None:
            return self.message
        self._close_all(out)
        msg = self._build(stop_reason, error_message, error, failure)
        self.message = msg
        out.append(ErrorEvent(msg, error))
        return msg

    def _build(
        self,
        stop_reason: StopReason,
        error_message: str | None,
        error: BaseException | None,
        failure: Failure | None,
    ) -> AssistantMessage:
        return build_message(
            self.model,
            self._content(),
            stop_reason,
            self.usage,
            error_message=error_message,
            provider_stop_reason=self.provider_stop_reason,
            response_id=self.response_id,
            error=error,
            failure=failure,
        )


class AssemblingParser:
    """What every provider's payload parser shares: the assembler of the message being
    streamed, the final message once it ended, and ending it on request (a transport
    failure, an abort)."""

    def __init__(self, model: Model, max_argument_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES) -> None:
        self.asm = MessageAssembler(model, max_argument_bytes)

    @property
    def message(self) -> AssistantMessage | None:
        return self.asm.message

    def feed_data(self, payloads: list[bytes]) -> list[StreamEvent]:
        """Each payload read as a JSON object and handed to :meth:`_payload`, until the
        message ends; a payload that is not one (or a broken rule) ends it in failure,
        keeping what came before."""
        out: list[StreamEvent] = []
        asm = self.asm
        for data in payloads:
            if asm.message is not None:
                break
            try:
                self._payload(loads_json_object(data), data, out)
            except StreamFormatError as exc:
                out += self.fail(str(exc), error=exc)
                break
        return out

    def _payload(self, obj: dict[str, Any], data: bytes, out: list[StreamEvent]) -> None:
        """One payload of the format (a subclass that uses :meth:`feed_data` reads it)."""
        raise NotImplementedError

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


def priced_usage(
    input: int, output: int, cache_read: int, cache_write: int, reasoning: int,
    price: ModelCost | None,
) -> Usage:  # fmt: skip
    """``Usage`` from its counts, priced when the model has prices."""
    u = Usage(input, output, cache_read, cache_write, reasoning,
              input + output + cache_read + cache_write)  # fmt: skip
    if price is not None:
        u = attrs.evolve(u, cost=price.price(u))
    return u


def failure_of(
    stop_reason: StopReason, error: BaseException | None, failure: Failure | None = None
) -> Failure | None:
    """The typed failure of a message: the one given, else the error's, else (for a
    stream that broke its format or ended early) ``malformed_stream``."""
    if failure is not None or stop_reason is not StopReason.ERROR:
        return failure
    known = getattr(error, "failure", None)
    if isinstance(known, Failure):
        return known
    code = "format" if isinstance(error, StreamFormatError) else "truncated"
    return Failure(FailureKind.MALFORMED_STREAM, code=code)


def build_message(
    model: Model,
    content: Sequence[AssistantContent],
    stop_reason: StopReason,
    usage: Usage,
    *,
    error_message: str | None = None,
    provider_stop_reason: str | None = None,
    response_id: str | None = None,
    error: BaseException | None = None,
    failure: Failure | None = None,
) -> AssistantMessage:
    """The final message of a stream, built here for every path (the pure parsers and
    the native core alike), so that both agree field for field."""
    return AssistantMessage(
        content,
        stop_reason,
        usage,
        model.id,
        model.provider_name,
        error_message,
        provider_stop_reason=provider_stop_reason,
        response_id=response_id,
        failure=failure_of(stop_reason, error, failure),
        api=model.api,
    )


def loads_json_object(data: str | bytes) -> dict[str, Any]:
    """``json.loads`` for one stream chunk, with an error that quotes the chunk."""
    try:
        value = loads(data)
    except ValueError as exc:
        raise StreamFormatError(malformed_chunk(data, str(exc))) from None
    if not isinstance(value, dict):
        raise StreamFormatError(chunk_not_object(data))
    return value
