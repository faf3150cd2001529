"""A success answer that is not an event stream, where one was asked for — read the
same on every transport.

Proxies that ignore ``stream: true`` (LiteLLM and others do) answer with the whole
completion as JSON: it is read as the reply, through the provider's own parser, by
turning it into the payloads a stream of it would have carried. An HTML page (a
login wall, a load balancer's error) or JSON that is no reply is reported as what it
is, with an excerpt — never as a stream that "ended in the middle of an event".
"""

from __future__ import annotations

from .._util import wording as words
from .._util.json import dumps, loads
from ..messages import Failure, FailureKind, Model, StreamEvent, StreamFormatError
from ..providers import Provider, framing_of
from ..wire import ByteParser, encode_frame

__all__ = ["NotAnEventStream", "is_whole_body", "read_whole_body"]

_WHOLE = ("application/json", "text/html", "application/xhtml+xml", "text/xml", "application/xml")


class NotAnEventStream(StreamFormatError):
    """The server answered success with something other than the event stream asked for."""

    failure = Failure(FailureKind.MALFORMED_STREAM, code="not_event_stream")


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_whole_body(status: int, content_type: str) -> bool:
    """Whether a success answer is a whole document, not a stream: its ``content-type``
    says JSON, HTML or XML (a missing or other type is read as a stream, as servers that
    omit it send), or its status says there is no content (204, 205)."""
    if status in (204, 205):
        return True
    media = media_type(content_type)
    return media in _WHOLE or media.endswith("+json")


def _framed(payloads: list[bytes], framing: str) -> bytes:
    """The payloads as a body of ``framing``: SSE ``data`` lines, or AWS event-stream
    frames (a payload ``{"<event>": member}`` is that event's frame)."""
    if framing != "aws-eventstream":
        return b"".join(b"data: " + p + b"\n\n" for p in payloads)
    frames = []
    for p in payloads:
        ((name, member),) = loads(p).items()
        headers = {
            ":event-type": name,
            ":content-type": "application/json",
            ":message-type": "event",
        }
        frames.append(encode_frame(headers, dumps(member)))
    return b"".join(frames)


def read_whole_body(
    parser: ByteParser,
    provider: Provider,
    model: Model,
    status: int,
    content_type: str,
    body: bytes,
) -> list[StreamEvent]:
    """The events of a whole body: the reply it holds, or the failure it is."""
    media = media_type(content_type)
    payloads = None
    if media == "application/json" or media.endswith("+json"):
        try:
            obj = loads(body)
        except ValueError:
            obj = None
        convert = getattr(provider, "whole_reply_payloads", None)
        payloads = convert(obj) if convert is not None and obj is not None else None
    if payloads is None:
        kind = media or "no content type"
        if body:
            what = f"{kind} ({len(body)} bytes): {words.excerpt(body)}"
        else:
            what = f"an empty body ({kind})"
        message = f"not an event stream: the server answered {status} with {what}"
        return parser.fail(message, error=NotAnEventStream(message))
    stream = _framed(payloads, framing_of(provider))
    return [*parser.feed(stream), *parser.end_of_stream()]
