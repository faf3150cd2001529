"""``complete()`` reads only the final message, so the native transport leaves the delta
events out for it: the message must be the one ``stream()`` ends with, and the rules
that look at events (no retry once content arrived) must hold as before."""

from __future__ import annotations

import attrs
import pytest

import tinyagent
from tinyagent import (
    AssistantMessage,
    Context,
    StopReason,
    TextDeltaEvent,
    TextEndEvent,
    TextStartEvent,
    ToolCallDeltaEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
    UserMessage,
)
from tinyagent.testing import LocalServer, ToolCallSpec, text_reply, tool_call_reply
from tinyagent.transports import make_source
from tinyagent.wire import stream_options

pytestmark = pytest.mark.anyio

CTX = Context("You are terse.", [UserMessage("hi")])


def _same(a: AssistantMessage, b: AssistantMessage) -> None:
    assert attrs.evolve(a, timestamp=0.0) == attrs.evolve(b, timestamp=0.0)


@pytest.mark.parametrize("kind", ["text", "tool"])
async def test_complete_returns_the_message_stream_ends_with(transport: str, kind: str) -> None:
    reply = (
        text_reply("Hello there, world!", chunk_size=3)
        if kind == "text"
        else tool_call_reply([ToolCallSpec("calc", {"x": 12345}, "c1")], text="sure", chunk_size=2)
    )
    async with LocalServer([reply, reply]) as server:
        model = server.model()
        async with tinyagent.stream(model, CTX, transport=transport) as events:
            streamed = [e async for e in events]
            assert events.message is not None
            whole = events.message
        completed = await tinyagent.complete(model, CTX, transport=transport)
    _same(completed, whole)
    assert any(isinstance(e, TextDeltaEvent | ToolCallDeltaEvent) for e in streamed)


async def test_without_deltas_the_native_source_keeps_each_blocks_start_and_end() -> None:
    reply = tool_call_reply([ToolCallSpec("calc", {"x": 12345}, "c1")], text="sure", chunk_size=2)
    async with LocalServer([reply]) as server:
        options = stream_options({"transport": "native"})
        source = make_source(server.model(), CTX, options, deltas=False)
        seen = []
        try:
            while source.message is None:
                seen += await source.next_batch()
        finally:
            await source.aclose()
    kinds = [type(e) for e in seen]
    assert TextDeltaEvent not in kinds and ToolCallDeltaEvent not in kinds
    for start, end in ((TextStartEvent, TextEndEvent), (ToolCallStartEvent, ToolCallEndEvent)):
        assert kinds.count(start) == 1 and kinds.count(end) == 1
        assert kinds.index(start) < kinds.index(end)
    message = source.message
    assert message is not None and message.text == "sure"
    assert [c.arguments for c in message.tool_calls] == [{"x": 12345}]


async def test_complete_does_not_retry_once_content_arrived(transport: str) -> None:
    # Text arrives, then the connection drops: the caller was shown no events, but the
    # reply had begun, so it is not sent again (it would be paid twice).
    broken = text_reply("partial answer here", chunk_size=4).but(disconnect_after=3)
    async with LocalServer([broken, text_reply("second")]) as server:
        message = await tinyagent.complete(server.model(), CTX, transport=transport, max_retries=3)
        assert len(server.requests) == 1
    assert message.stop_reason is StopReason.ERROR
    assert message.text and "partial answer here".startswith(message.text)
