"""The Python side of the native core (``tinyagent._native``, built from ``native/``).

The Rust core hands back finished event objects (built without running Python code
per delta) and, for everything else, one typed ``Signal`` record (the end of a message,
an HTTP error, a transport failure). This module turns an end signal into the final
:class:`AssistantMessage` through the same ``build_message``, the same provider verdicts
and the same words (:mod:`tinyagent._util.wording`) as the pure path, so both paths agree
event for event.

``transport="httpx+native"`` feeds httpx's bytes to :class:`NativeByteParser`;
``transport="native"`` runs the whole request in Rust on a shared tokio runtime
(:class:`NativeSource`) and wakes Python through a file descriptor.
"""

from __future__ import annotations

from typing import Any

from .._util import wording as words
from ..messages import (
    AssistantMessage,
    DoneEvent,
    ErrorEvent,
    Model,
    StartEvent,
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
)
from ..providers import Provider
from ..wire import (
    NoEvents,
    PreparedRequest,
    StreamOptions,
    build_message,
    loads_json_object,
    parse_tool_arguments,
    priced_usage,
)
from ._errors import answer_error, transport_error
from ._network import NetworkConfig, network_for
from ._wakeups import Wakeups, loop_wakeups
from ._whole import read_whole_body

__all__ = ["NativeByteParser", "NativeSource", "native_available"]

try:
    from . import _native
except ImportError:  # built without a Rust toolchain: the pure path is used
    _native = None  # type: ignore[assignment]
else:
    _native.configure(
        {
            "TextStartEvent": TextStartEvent,
            "TextDeltaEvent": TextDeltaEvent,
            "TextEndEvent": TextEndEvent,
            "ThinkingStartEvent": ThinkingStartEvent,
            "ThinkingDeltaEvent": ThinkingDeltaEvent,
            "ThinkingEndEvent": ThinkingEndEvent,
            "ToolCallStartEvent": ToolCallStartEvent,
            "ToolCallDeltaEvent": ToolCallDeltaEvent,
            "ToolCallEndEvent": ToolCallEndEvent,
            "TextContent": TextContent,
            "ThinkingContent": ThinkingContent,
            "parse_tool_arguments": parse_tool_arguments,
        }
    )


def native_available() -> bool:
    """True when the native core was built and imports (``transport="native"`` works)."""
    return _native is not None


def _require() -> Any:
    if _native is None:
        raise ValueError(
            "the native transport is not available: tinyagent was installed without its "
            "Rust extension; use transport='httpx' or install with a Rust toolchain"
        )
    return _native


class _Finisher:
    """Builds the final message from the core's end ``Signal``, through the same
    function and the same provider verdicts as the pure path."""

    def __init__(self, model: Model, provider: Provider, options: StreamOptions) -> None:
        self._model = model
        self._provider = provider
        self._max_line = options.max_line_bytes
        self._max_args = options.max_argument_bytes
        self.message: AssistantMessage | None = None
        self.closed: Any = None  # the core's ``closed`` signal, once blocks were ended
        self.last_end: Any = None  # the last end signal handed over (even if it raised)

    def _build(
        self,
        end: Any,
        stop: StopReason,
        error_message: str | None,
        error: BaseException | None = None,
        failure: Any = None,
    ) -> AssistantMessage:
        """The message from an end signal (None: nothing was parsed)."""
        usage = end.usage if end is not None else None
        i, o, r, w, reasoning = usage if usage is not None else (0, 0, 0, 0, 0)
        return build_message(
            self._model,
            end.content if end is not None else (),
            stop,
            priced_usage(i, o, r, w, reasoning, self._model.cost),
            error_message=error_message,
            provider_stop_reason=end.provider_stop_reason if end is not None else None,
            response_id=end.response_id if end is not None else None,
            error=error,
            failure=failure,
        )

    def terminal(self, end: Any, out: list[Any]) -> None:
        """Append the final event for an end signal (``finish``, ``fail``, ``closed``)."""
        self.last_end = end
        kind = end.kind
        if kind == "finish":
            has_tools = any(isinstance(c, ToolCall) for c in end.content)
            stop, error, failure = self._provider.stop_verdict(end.provider_stop_reason, has_tools)
            self.message = self._build(end, stop, error, None, failure)
            failed = stop in (StopReason.ERROR, StopReason.ABORTED)
            out.append(ErrorEvent(self.message) if failed else DoneEvent(self.message))
        elif kind == "fail":
            message, exc = self._words(end.code, end.detail)
            self.message = self._build(end, StopReason.ERROR, message, exc)
            out.append(ErrorEvent(self.message, exc))
        elif kind == "closed":
            self.closed = end

    def fail(
        self, end: Any, message: str, stop: StopReason, error: BaseException | None
    ) -> ErrorEvent:
        self.message = self._build(end, stop, message, error)
        return ErrorEvent(self.message, error)

    def _words(self, code: str, detail: Any) -> tuple[str, BaseException | None]:
        if code == "bad_json":
            try:
                loads_json_object(detail)
            except StreamFormatError as exc:
                return str(exc), exc
            exc2 = StreamFormatError(words.malformed_chunk(detail, "rejected by the native parser"))
            return str(exc2), exc2
        if code == "stream_error":
            err = self._provider.stream_error(detail, self._model)
            return err.message, err
        text = {
            "shape": lambda: words.unexpected_structure(detail),
            "limit_pending": lambda: words.pending_line_too_long(self._max_line),
            "limit_data": lambda: words.data_too_long(self._max_line),
            "limit_line": lambda: words.line_too_long(self._max_line),
            "args_too_large": lambda: words.arguments_too_large(detail, self._max_args),
            "frame": lambda: str(detail),  # the AWS event stream's framing, worded in Rust
            "truncated_event": lambda: words.ENDED_MID_EVENT,
            "no_events": lambda: words.no_events(*detail),
            "no_finish": lambda: self._provider.no_finish,
            "done_no_finish": lambda: words.DONE_WITHOUT_FINISH,
            "protocol": lambda: words.protocol_violation(detail),
        }[code]()
        if code in ("truncated_event", "no_finish", "done_no_finish"):
            return text, None
        if code == "no_events":
            return text, NoEvents(text)
        return text, StreamFormatError(text)


def _is_signal(item: object) -> bool:
    return _native is not None and type(item) is _native.Signal


def _split_terminal(items: list[Any], finisher: _Finisher) -> list[Any]:
    if items and _is_signal(items[-1]):
        item = items.pop()
        finisher.terminal(item, items)
    return items


class NativeByteParser:
    """The native parser under the httpx transport (``transport="httpx+native"``)."""

    def __init__(self, model: Model, provider: Provider, options: StreamOptions) -> None:
        self._core = _require().ChatStreamParser(
            options.max_line_bytes,
            options.max_argument_bytes,
            provider.native_format,
            model.think_tags,
        )
        self._finisher = _Finisher(model, provider, options)

    @property
    def message(self) -> AssistantMessage | None:
        return self._finisher.message

    @property
    def finisher(self) -> _Finisher:
        return self._finisher

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        return _split_terminal(self._core.feed(chunk), self._finisher)

    def end_of_stream(self) -> list[StreamEvent]:
        return _split_terminal(self._core.end_of_stream(), self._finisher)

    def fail(
        self,
        message: str,
        *,
        stop_reason: StopReason = StopReason.ERROR,
        error: BaseException | None = None,
    ) -> list[StreamEvent]:
        if self._finisher.message is not None:
            return []
        items = self._core.close()
        # A core that already ended (its end signal raised in Python) has nothing left
        # to close: the message is built from the end signal it handed over.
        closed = items.pop() if items else self._finisher.last_end
        items.append(self._finisher.fail(closed, message, stop_reason, error))
        return items  # type: ignore[no-any-return]


class NativeSource:
    """``transport="native"``: the request runs in Rust; Python drains batches."""

    def __init__(
        self,
        model: Model,
        provider: Provider,
        request: PreparedRequest,
        options: StreamOptions,
        *,
        deltas: bool = True,
        network: NetworkConfig | None = None,
    ) -> None:
        self._core = _require()
        self._deltas = deltas  # False: no delta events (only the final message is read)
        self._model = model
        self._provider = provider
        self._format = provider.native_format
        self._request = request
        self._options = options
        self._finisher = _Finisher(model, provider, options)
        self._network = network or network_for(request.url, options)
        self._stream: Any = None
        self._wakeups: Wakeups | None = None
        self._id = 0

    @property
    def message(self) -> AssistantMessage | None:
        return self._finisher.message

    def _start(self) -> None:
        o = self._options
        r = self._request
        self._wakeups = loop_wakeups(self._core)
        self._id = self._wakeups.new_id()
        self._stream = self._core.NativeStream(
            r.url,
            list(r.headers.items()),
            r.body,
            o.connect_timeout,
            o.read_timeout,
            o.max_line_bytes,
            o.max_argument_bytes,
            self._format,
            self._network.proxy,
            self._network.ca_bundle,
            self._model.think_tags,
            self._wakeups.waker,
            self._id,
            self._deltas,
        )

    def _local_failure(self, exc: OSError) -> list[StreamEvent]:
        """This machine could not start the request (out of descriptors, say): the call
        ends as a failed message, as any transport failure does, not as an exception."""
        o = self._options
        detail = f"{type(exc).__name__}: {exc}"
        err = transport_error("local", self._request.url, detail, o.connect_timeout, o.read_timeout)
        return [self._finisher.fail(None, err.message, StopReason.ERROR, err)]

    async def next_batch(self) -> list[StreamEvent]:
        if self._stream is None:
            if self._finisher.message is not None:
                return []
            try:
                self._start()
            except OSError as exc:
                return self._local_failure(exc)
        assert self._wakeups is not None
        while True:
            items = self._stream.drain()
            if items:
                if not self._stream.control:
                    return items  # type: ignore[no-any-return]  # only events: no work here
                out = self._handle(items)
                if out or self._finisher.message is not None:
                    return out
                continue
            await self._wakeups.wait(self._id)

    def _handle(self, items: list[Any]) -> list[StreamEvent]:
        out: list[Any] = []
        signal = _native.Signal if _native is not None else None
        for item in items:
            if type(item) is not signal:
                out.append(item)
                continue
            kind = item.kind
            if kind == "started":
                out.append(StartEvent(self._model.id, self._model.provider_name))
            elif kind == "whole_body":
                # Not a stream: the whole body, read by the same rule as on httpx (its
                # reply through the native parser; what else it is, said).
                parser = NativeByteParser(self._model, self._provider, self._options)
                body = self._request.redact(item.detail)
                ctype = item.content_type or ""
                out.extend(
                    read_whole_body(parser, self._provider, self._model, item.status, ctype, body)
                )
                self._finisher = parser.finisher
            elif kind == "http_error":
                exc = answer_error(
                    self._provider, self._model, self._request, item.status, item.detail,
                    item.headers,
                )  # fmt: skip
                out.append(self._finisher.fail(None, exc.message, StopReason.ERROR, exc))
            elif kind == "transport":
                o = self._options
                err = transport_error(
                    item.code, self._request.url, item.detail, o.connect_timeout,
                    o.read_timeout, self._network.proxy,
                )  # fmt: skip
                end = self._finisher.closed
                out.append(self._finisher.fail(end, err.message, StopReason.ERROR, err))
            else:
                self._finisher.terminal(item, out)
        return out

    def abort(
        self, message: str, stop_reason: StopReason, error: BaseException | None = None
    ) -> list[StreamEvent]:
        """Cancel the request and end the message as ``stop_reason``, keeping every block
        the core had parsed, including what Python had not drained yet."""
        if self._finisher.message is not None:
            return []
        out: list[Any] = []
        if self._stream is not None:
            for item in self._stream.abort():
                if not _is_signal(item):
                    out.append(item)
                elif item.kind in ("finish", "fail", "closed"):
                    self._finisher.terminal(item, out)
        if self._finisher.message is None:
            end = self._finisher.closed or self._finisher.last_end
            out.append(self._finisher.fail(end, message, stop_reason, error))
        return out

    async def aclose(self) -> None:
        if self._stream is not None:
            self._stream.close()
