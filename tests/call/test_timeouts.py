"""Timeouts: a stalled server becomes an error event that says so, never a hang.

On trio these run on pytest-trio's autojump ``MockClock``: the clock jumps to the next
deadline whenever every task is blocked, so a 120 s read timeout costs no real time.
On asyncio (no mock clock) the same behaviour is checked with sub-second timeouts.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

import tinyagent
from tinyagent import Context, StopReason, UserMessage
from tinyagent.testing import LocalServer, text_reply

CTX = Context(messages=[UserMessage("hi")])


@pytest.mark.trio
async def test_stall_past_read_timeout_is_an_error_keeping_text(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reply = text_reply("abcdefgh", chunk_size=2).but(stall_after=3, stall=3600)
    async with LocalServer([reply]) as server:
        start = trio.current_time()
        message = await tinyagent.complete(server.model(), CTX, read_timeout=120, transport="httpx")
        elapsed = trio.current_time() - start
        assert await server.wait_connections_closed()
    assert message.stop_reason is StopReason.ERROR
    assert "read timeout" in (message.error_message or "") and "120" in (
        message.error_message or ""
    )
    assert message.text == "abcd"
    assert 120 <= elapsed < 130  # the timeout fired, not the server's hour-long stall


@pytest.mark.trio
async def test_slow_but_steady_stream_is_not_a_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # 20 chunks 5 s apart: 100 s in all, but never 10 s of silence.
    reply = text_reply("x" * 20, chunk_size=1, chunk_delay=5)
    async with LocalServer([reply]) as server:
        message = await tinyagent.complete(server.model(), CTX, read_timeout=10, transport="httpx")
    assert message.stop_reason is StopReason.STOP and message.text == "x" * 20


@pytest.mark.trio
async def test_slow_headers_past_read_timeout(autojump_clock: trio.testing.MockClock) -> None:
    async with LocalServer([text_reply("late").but(delay=600)]) as server:
        message = await tinyagent.complete(
            server.model(), CTX, read_timeout=30, max_retries=0, transport="httpx"
        )
    assert message.stop_reason is StopReason.ERROR
    assert "read timeout" in (message.error_message or "")


@pytest.mark.trio
async def test_retry_backoff_uses_the_clock_not_real_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from tinyagent.testing import error_reply

    async with LocalServer(
        [error_reply(429, "slow down", headers={"retry-after": "30"}), text_reply("ok")]
    ) as server:
        start = trio.current_time()
        message = await tinyagent.complete(server.model(), CTX, transport="httpx")
        assert trio.current_time() - start >= 30
    assert message.text == "ok"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("anyio_backend", "transport"),
    [("asyncio", "httpx"), ("asyncio", "httpx+native"), ("asyncio", "native"), ("trio", "native")],
)
async def test_stall_past_read_timeout_in_real_time(transport: str) -> None:
    # No mock clock for asyncio, nor for the native transport (tokio keeps real time):
    # the same behaviour, checked with a one-second timeout.
    reply = text_reply("abcdefgh", chunk_size=2).but(stall_after=3, stall=30)
    async with LocalServer([reply]) as server:
        message = await tinyagent.complete(
            server.model(), CTX, read_timeout=1.0, transport=transport
        )
        assert await server.wait_connections_closed()
    assert message.stop_reason is StopReason.ERROR
    assert "read timeout" in (message.error_message or "")
    assert message.text == "abcd"


@pytest.mark.anyio
async def test_slow_headers_past_read_timeout_in_real_time(transport: str) -> None:
    async with LocalServer([text_reply("late").but(delay=30)]) as server:
        message = await tinyagent.complete(
            server.model(), CTX, read_timeout=0.5, max_retries=0, transport=transport
        )
        assert await server.wait_responses_done()
    assert message.stop_reason is StopReason.ERROR
    assert "read timeout" in (message.error_message or "")
    assert server.requests[0].client_disconnected
