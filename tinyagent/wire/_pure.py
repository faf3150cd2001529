"""The pure-Python byte parser: the SSE decoder and a provider's payload parser."""

from __future__ import annotations

from .._util.wording import ENDED_MID_EVENT, no_events
from ..messages import (
    AssistantMessage,
    Failure,
    FailureKind,
    StopReason,
    StreamEvent,
    StreamFormatError,
)
from ._eventstream import EventStreamDecoder
from ._parsers import PayloadParser
from ._sse import SSEDecoder

__all__ = ["NoEvents", "PureByteParser"]

HEAD_KEPT = 200  # how much of a body with no event is kept to say what it was


class NoEvents(StreamFormatError):
    """The body ended before a single whole event (an empty body, a page or a message
    where an event stream was asked for, a first event cut short)."""

    failure = Failure(FailureKind.MALFORMED_STREAM, code="no_events")


class PureByteParser:
    """Bytes of a streamed body in, stream events out, in Python. The native parser has
    the same interface and gives the same events for the same bytes.

    ``framing`` is how the body is cut into payloads: ``"sse"`` (Server-Sent Events'
    ``data``) or ``"aws-eventstream"`` (AWS's binary frames); the format's parser reads
    the payloads either way."""

    def __init__(self, parser: PayloadParser, max_line_bytes: int, framing: str = "sse") -> None:
        if framing == "aws-eventstream":
            self._decoder: SSEDecoder | EventStreamDecoder = EventStreamDecoder(max_line_bytes)
        elif framing == "sse":
            self._decoder = SSEDecoder(max_line_bytes)
        else:
            raise ValueError(f"unknown framing {framing!r}: sse or aws-eventstream")
        self._parser = parser
        # Until a payload comes: the bytes seen, and the first of them.
        self._any = False
        self._seen = 0
        self._head = b""

    @property
    def message(self) -> AssistantMessage | None:
        return self._parser.message

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        if not self._any:
            self._seen += len(chunk)
            if len(self._head) < HEAD_KEPT:
                self._head += chunk[: HEAD_KEPT - len(self._head)]
        try:
            payloads = self._decoder.feed_data(chunk)
        except StreamFormatError as exc:  # a bound broken: keep what came before it
            out = self._parser.feed_data(getattr(exc, "partial", []))
            if self._parser.message is None:
                out += self._parser.fail(str(exc), error=exc)
            return out
        if not payloads:
            return []
        self._any = True
        return self._parser.feed_data(payloads)

    def end_of_stream(self) -> list[StreamEvent]:
        if self._parser.message is None:
            if not self._any:
                text = no_events(self._seen, self._head)
                return self._parser.fail(text, error=NoEvents(text))
            if self._decoder.has_partial:
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
