"""Anthropic block indexes from a hostile stream (issue 21, item 15): a delta or stop
for a block never started, a start without an index or started twice, an index that is
negative, a float, a string or past 2**63 - 1 — each a malformed stream that keeps what
arrived, the same words on every transport, on trio and asyncio."""

from __future__ import annotations

from typing import Any

import pytest

from tinyagent import complete
from tinyagent.messages import Context, FailureKind, StopReason, UserMessage
from tinyagent.testing import LocalServer, anthropic_events_reply

pytestmark = pytest.mark.anyio

START = {
    "type": "message_start",
    "message": {"id": "msg_1", "model": "m", "usage": {"input_tokens": 3, "output_tokens": 1}},
}
TEXT0 = [
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "kept"}},
]
END = [
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
    {"type": "message_stop"},
]


def delta(index: Any) -> dict[str, Any]:
    return {
        "type": "content_block_delta",
        "index": index,
        "delta": {"type": "text_delta", "text": "lost"},
    }


def start(index: Any) -> dict[str, Any]:
    return {
        "type": "content_block_start",
        "index": index,
        "content_block": {"type": "text", "text": ""},
    }


BAD = {
    "delta for a block never started": delta(1),
    "negative index": delta(-1),
    "float index": delta(0.0),
    "string index": delta("0"),
    "index past 2**63 - 1": delta(2**63),
    "a block started past 2**63 - 1": start(2**63),
    "start without an index": start(None),
    "a block started twice": start(0),
    "start without a block": {"type": "content_block_start", "index": 1},
    "stop for a block never started": {"type": "content_block_stop", "index": 5},
}


@pytest.mark.parametrize("case", list(BAD))
async def test_a_bad_block_index_is_a_malformed_stream(case: str, transport: str) -> None:
    events = [START, *TEXT0, BAD[case], *END]
    async with LocalServer([anthropic_events_reply(events)]) as server:
        model = server.model(api="anthropic-messages")
        reply = await complete(model, Context("", (UserMessage("hi"),)), transport=transport)
    assert reply.stop_reason is StopReason.ERROR
    assert reply.failure is not None and reply.failure.kind is FailureKind.MALFORMED_STREAM
    assert reply.error_message is not None
    assert reply.error_message.startswith("the stream broke its protocol: ")
    assert reply.text == "kept"  # what arrived before it is kept, nothing after


async def test_the_largest_index_is_an_index_on_every_transport(transport: str) -> None:
    big = 2**63 - 1
    events = [
        START, start(big),
        {"type": "content_block_delta", "index": big, "delta": {"type": "text_delta", "text": "ok"}},
        {"type": "content_block_stop", "index": big}, *END[1:],
    ]  # fmt: skip
    async with LocalServer([anthropic_events_reply(events)]) as server:
        model = server.model(api="anthropic-messages")
        reply = await complete(model, Context("", (UserMessage("hi"),)), transport=transport)
    assert reply.stop_reason is StopReason.STOP and reply.text == "ok"
