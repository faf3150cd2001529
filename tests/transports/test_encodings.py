"""Compressed answers read the same on every transport. httpx asks for gzip and deflate
and decodes them; the native core asked for nothing and decoded nothing, so a server or
proxy that compressed anyway gave a "truncated" stream and an error body of binary
noise there. Now both ask for and decode the same encodings, and a body that does not
decode (corrupt, cut short, or under a broken connection) reads the same everywhere.
Both also send the same User-Agent (the native core sent none)."""

from __future__ import annotations

import gzip
import zlib

import pytest

import tinyagent
from tinyagent import complete
from tinyagent.messages import Context, FailureKind, StopReason, TextContent, UserMessage
from tinyagent.testing import LocalServer, Reply, text_reply

pytestmark = pytest.mark.anyio
CTX = Context("", (UserMessage("hi"),))
STREAM = b"".join(text_reply("hello, compressed").pieces)
ENCODE = {"gzip": gzip.compress, "deflate": zlib.compress}


def encoded(body: bytes, encoding: str, *, pieces: int = 3, **changes: object) -> Reply:
    n = max(1, len(body) // pieces)
    parts = tuple(body[i : i + n] for i in range(0, len(body), n))
    reply = Reply(pieces=parts, headers={"content-encoding": encoding})
    return reply.but(**changes) if changes else reply


async def call(reply: Reply, transport: str) -> tinyagent.AssistantMessage:
    async with LocalServer([reply]) as server:
        return await complete(server.model(), CTX, transport=transport)


@pytest.mark.parametrize("encoding", list(ENCODE))
async def test_a_compressed_stream_is_read(encoding: str, transport: str) -> None:
    reply = await call(encoded(ENCODE[encoding](STREAM), encoding), transport)
    assert reply.stop_reason is StopReason.STOP, reply.error_message
    assert reply.content == (TextContent("hello, compressed"),)


async def test_a_compressed_error_body_is_read(transport: str) -> None:
    body = gzip.compress(b'{"error": {"message": "bad thing", "type": "invalid_request_error"}}')
    answer = Reply(
        status=400, body=body, content_type="application/json",
        headers={"content-encoding": "gzip"},
    )  # fmt: skip
    reply = await call(answer, transport)
    assert reply.failure is not None and reply.failure.kind is FailureKind.INVALID_REQUEST
    assert reply.error_message == "HTTP 400 from local (mock-model): bad thing"


async def test_a_compressed_whole_reply_is_read(transport: str) -> None:
    whole = (
        b'{"id": "c1", "object": "chat.completion", "model": "m", "choices": [{"index": 0,'
        b' "finish_reason": "stop", "message": {"role": "assistant", "content": "whole"}}]}'
    )
    answer = Reply(
        body=gzip.compress(whole), content_type="application/json",
        headers={"content-encoding": "gzip"},
    )  # fmt: skip
    reply = await call(answer, transport)
    assert reply.content == (TextContent("whole"),), reply.error_message


def _corrupt(data: bytes) -> bytes:
    return data[:20] + b"\xff" * 10 + data[30:]


async def test_a_corrupt_stream_says_so(transport: str) -> None:
    async with LocalServer([encoded(_corrupt(gzip.compress(STREAM)), "gzip")]) as server:
        reply = await complete(server.model(), CTX, transport=transport)
        url = f"{server.base_url}/chat/completions"
    assert reply.failure is not None
    assert (reply.failure.kind, reply.failure.code) == (FailureKind.MALFORMED_STREAM, "decode")
    assert reply.error_message == (
        f"the body from {url} is corrupt: it does not decode by its content-encoding"
    )


async def test_a_corrupt_error_body_says_so(transport: str) -> None:
    body = _corrupt(gzip.compress(b'{"error": {"message": "a long enough message here"}}'))
    answer = Reply(
        status=400, body=body, content_type="application/json",
        headers={"content-encoding": "gzip"},
    )  # fmt: skip
    reply = await call(answer, transport)
    assert reply.error_message == (
        "HTTP 400 from local (mock-model): (a body that does not decode by its content-encoding)"
    )


async def test_a_compressed_stream_cut_short_is_a_truncated_reply(transport: str) -> None:
    cut = gzip.compress(STREAM)[:-40]  # the HTTP body ends whole; the gzip stream does not
    reply = await call(encoded(cut, "gzip"), transport)
    assert reply.failure is not None
    assert (reply.failure.kind, reply.failure.code) == (FailureKind.MALFORMED_STREAM, "truncated")


async def test_a_broken_connection_under_compression_is_a_broken_connection(
    transport: str,
) -> None:
    reply = await call(encoded(gzip.compress(STREAM), "gzip", disconnect_after=1), transport)
    assert reply.failure is not None
    assert (reply.failure.kind, reply.failure.code) == (FailureKind.CONNECTION, "closed")
    assert reply.error_message == "the connection closed mid-stream (truncated reply)"


async def test_every_transport_asks_alike(transport: str) -> None:
    async with LocalServer([text_reply("ok")]) as server:
        await complete(server.model(), CTX, transport=transport)
        (request,) = server.requests
    codings = {c.strip() for c in request.headers["accept-encoding"].split(",")}
    assert {"gzip", "deflate"} <= codings
    assert request.headers["user-agent"] == f"tinyagent/{tinyagent.__version__}"


async def test_a_user_agent_of_the_model_s_own_is_sent_once(transport: str) -> None:
    async with LocalServer([text_reply("ok")]) as server:
        model = server.model(headers={"User-Agent": "my-app/2"})
        await complete(model, CTX, transport=transport)
        (request,) = server.requests
    assert request.headers["user-agent"] == "my-app/2"


def test_a_header_set_again_replaces_the_one_before_in_any_case() -> None:
    from tinyagent.wire import StreamOptions, base_headers

    model = tinyagent.Model("m", "http://127.0.0.1:1/v1", headers={"User-Agent": "my-app/2"})
    headers, _ = base_headers(model, StreamOptions(headers={"USER-AGENT": "call/3"}))
    assert [(k, v) for k, v in headers.items() if k.lower() == "user-agent"] == [
        ("USER-AGENT", "call/3")
    ]
    assert headers["accept"] == "text/event-stream"
