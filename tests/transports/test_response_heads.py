"""A response head read the same on every transport (raw bytes from a server of our
own, since these heads are ones a well-behaved HTTP library will not send).

An answer whose head is not HTTP, or too large, was "closed before any response" (and
so retried) on both transports, and the two disagreed on which heads they read at all:
hyper (the native core) refused a folded header and over 100 header lines, h11 (httpx)
heads over about 100 KiB. Now both read folded headers, both refuse over 100 lines or
100 KiB, and a head refused is said as such, once (not retried)."""

from __future__ import annotations

import anyio
import anyio.abc
import pytest

from tinyagent import complete
from tinyagent.messages import (
    AssistantMessage,
    Context,
    FailureKind,
    Model,
    StopReason,
    TextContent,
    UserMessage,
)
from tinyagent.testing import text_reply
from tinyagent.testing._tcp import serve_tcp

pytestmark = pytest.mark.anyio
CTX = Context("", (UserMessage("hi"),))
STREAM = b"".join(text_reply("read").pieces)


def head(extra: bytes = b"", status: bytes = b"HTTP/1.1 200 OK") -> bytes:
    return (
        status + b"\r\ncontent-type: text/event-stream\r\n" + extra
        + b"content-length: %d\r\n\r\n" % len(STREAM) + STREAM
    )  # fmt: skip


async def answer_with(raw: bytes, transport: str) -> tuple[AssistantMessage, int]:
    """The reply to one call against a server that answers every request with ``raw``,
    and how many requests it got."""
    requests = 0

    async def serve(stream: anyio.abc.SocketStream) -> None:
        nonlocal requests
        async with stream:
            buffer = b""
            while b"\r\n\r\n" not in buffer:
                buffer += await stream.receive()
            requests += 1
            await stream.send(raw)
            await anyio.sleep(0.2)  # let the client read before the close

    async with serve_tcp(serve) as port:
        model = Model("m", f"http://127.0.0.1:{port}/v1")
        reply = await complete(model, CTX, transport=transport)
    return reply, requests


@pytest.mark.parametrize(
    "extra",
    [
        b"x-folded: a\r\n b\r\n",  # obsolete line folding
        b"".join(b"x-h%d: v\r\n" % i for i in range(90)),
        b"set-cookie: a=" + b"x" * 70_000 + b"\r\n",
    ],
    ids=["folded", "90-lines", "70-KB"],
)
async def test_these_heads_are_read(extra: bytes, transport: str) -> None:
    reply, _ = await answer_with(head(extra), transport)
    assert reply.content == (TextContent("read"),), reply.error_message


@pytest.mark.parametrize(
    "extra",
    [
        b"".join(b"x-h%d: v\r\n" % i for i in range(150)),
        b"set-cookie: a=" + b"x" * 120_000 + b"\r\n",
        b"set-cookie: a=" + b"x" * 300_000 + b"\r\n",
        b"bad name: v\r\n",
    ],
    ids=["150-lines", "120-KB", "300-KB", "space-in-name"],
)
async def test_these_are_said_to_be_no_http_answer(extra: bytes, transport: str) -> None:
    reply, requests = await answer_with(head(extra), transport)
    assert reply.stop_reason is StopReason.ERROR
    failure = reply.failure
    assert (failure.kind, failure.code) == (FailureKind.MALFORMED_STREAM, "bad_response")
    assert reply.error_message is not None
    assert "a response head that is not valid HTTP or too large to read" in reply.error_message
    assert requests == 1  # an answer came: not retried as if none had


async def test_a_server_that_closes_unanswered_is_still_no_response(transport: str) -> None:
    reply, requests = await answer_with(b"", transport)
    failure = reply.failure
    assert (failure.kind, failure.code) == (FailureKind.CONNECTION, "no_response")
    assert requests == 3  # retried: nothing was taken up
