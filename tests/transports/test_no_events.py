"""A body that ends before a single whole event says what came instead, the same on
every transport and parser: an HTML page sent as ``text/event-stream`` was "the stream
ended in the middle of an event", an empty body or keep-alives alone "the stream ended
before a finish reason", as if a reply had been cut."""

from __future__ import annotations

import pytest

import tinyagent
from tinyagent import complete
from tinyagent.messages import (
    AssistantMessage,
    Context,
    ErrorEvent,
    FailureKind,
    StreamFormatError,
    UserMessage,
)
from tinyagent.providers import provider_for
from tinyagent.testing import LocalServer, Reply, text_reply
from tinyagent.wire import PureByteParser, StreamOptions

pytestmark = pytest.mark.anyio
CTX = Context("", (UserMessage("hi"),))


async def call(body: bytes, transport: str, api: str = "openai-chat") -> AssistantMessage:
    half = len(body) // 2
    async with LocalServer([Reply(pieces=(body[:half], body[half:]))]) as server:
        return await complete(server.model(api=api), CTX, transport=transport, max_retries=0)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            b"<html>\n<body>502 Bad Gateway</body>\n</html>",
            "the stream ended with no complete event ({n} bytes): "
            "<html> <body>502 Bad Gateway</body> </html>",
        ),
        (b"", "the stream ended with no event: the body was empty"),
        (b": keep-alive\n\n: keep-alive\n\n", "the stream ended with no complete event ({n} bytes): "
         ": keep-alive : keep-alive"),
        (b'data: {"id": "chatcmpl-1", "choi', "the stream ended with no complete event ({n} bytes): "
         'data: {{"id": "chatcmpl-1", "choi'),
    ],
    ids=["html", "empty", "keep-alives", "first-event-cut"],
)  # fmt: skip
async def test_what_came_instead_is_said(body: bytes, said: str, transport: str) -> None:
    reply = await call(body, transport)
    assert reply.failure is not None
    assert (reply.failure.kind, reply.failure.code) == (FailureKind.MALFORMED_STREAM, "no_events")
    assert reply.error_message == said.format(n=len(body))


@pytest.mark.parametrize("api", ["anthropic-messages", "openai-responses", "google-gemini"])
async def test_every_format_says_it(api: str, transport: str) -> None:
    reply = await call(b"upstream connect error", transport, api)
    assert reply.failure is not None and reply.failure.code == "no_events"
    assert reply.error_message == (
        "the stream ended with no complete event (22 bytes): upstream connect error"
    )


async def test_an_empty_aws_event_stream_says_it_too(transport: str) -> None:
    # (Bytes that are no AWS frame are a corrupt frame, said as such, before the end.)
    reply = await call(b"", transport, "bedrock-converse")
    assert reply.failure is not None and reply.failure.code == "no_events"
    assert reply.error_message == "the stream ended with no event: the body was empty"


async def test_a_stream_cut_after_an_event_is_still_a_truncated_reply(transport: str) -> None:
    whole = b"".join(text_reply("hello").pieces)
    first = whole.index(b"\n\n") + 2  # one whole event, then half of the next
    reply = await call(whole[: first + 10], transport)
    assert reply.failure is not None and reply.failure.code == "truncated"
    assert reply.error_message == "the stream ended in the middle of an event (truncated reply)"


async def test_only_the_first_bytes_are_kept(transport: str) -> None:
    reply = await call(b"x" * 100_000, transport)
    assert (
        reply.error_message
        == f"the stream ended with no complete event (100000 bytes): {'x' * 200}"
    )


async def test_the_error_is_the_same_type_and_words_everywhere(transport: str) -> None:
    body = b"<html>gateway</html>"
    async with LocalServer([Reply(pieces=(body,))]) as server:
        async with tinyagent.stream(
            server.model(), CTX, transport=transport, max_retries=0
        ) as events:
            ends = [e async for e in events if isinstance(e, ErrorEvent)]
    (end,) = ends
    assert isinstance(end.error, StreamFormatError)
    assert (
        str(end.error)
        == end.message.error_message
        == (f"the stream ended with no complete event ({len(body)} bytes): <html>gateway</html>")
    )


def test_an_unknown_framing_is_refused() -> None:
    model = tinyagent.Model("m", "http://127.0.0.1:1/v1")
    payloads = provider_for(model).payload_parser(model, StreamOptions())
    with pytest.raises(ValueError, match=r"^unknown framing 'xml': sse or aws-eventstream$"):
        PureByteParser(payloads, 1024, "xml")
