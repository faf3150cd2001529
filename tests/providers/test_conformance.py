"""Real recorded provider streams, served in random slices, read through complete()."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tinyagent
from tinyagent.testing import LocalServer, sse_file_reply

from .conformance_cases import cases

pytestmark = pytest.mark.anyio


OPENAI_CASES = cases("openai-chat")
ANTHROPIC_CASES = cases("anthropic-messages")
RESPONSES_CASES = cases("openai-responses")


def assert_matches(message: tinyagent.AssistantMessage, expected: dict[str, Any]) -> None:
    assert message.text == expected["text"]
    assert message.thinking == expected["reasoning"]
    calls = [(c.id, c.name, c.arguments) for c in message.tool_calls]
    assert calls == [
        (c["id"], c["name"], json.loads(c["arguments"])) for c in expected["tool_calls"]
    ]
    assert message.provider_stop_reason == expected["finish_reason"]
    if expected["usage"] is not None:
        u = message.usage
        got = {"input": u.input, "output": u.output, "cache_read": u.cache_read,
               "cache_write": u.cache_write, "reasoning": u.reasoning}  # fmt: skip
        assert got == expected["usage"]
    if expected["error"] is not None:
        assert message.stop_reason is tinyagent.StopReason.ERROR
        assert message.error_message == expected["error"]
    else:
        assert message.stop_reason is not tinyagent.StopReason.ERROR, message.error_message
    assert message.model == (expected["model"] or "unnamed-model")  # none in the stream: ours
    if "thinking_signatures" in expected:
        thinking = [c for c in message.content if isinstance(c, tinyagent.ThinkingContent)]
        signed = [c.signature for c in thinking if c.signature and not c.redacted]
        assert signed == expected["thinking_signatures"]
        assert sum(c.redacted for c in thinking) == expected["redacted_thinking_blocks"]
    if "encrypted_reasoning_items" in expected:
        items = [
            (json.loads(c.signature)["item"], c.redacted)
            for c in message.content
            if isinstance(c, tinyagent.ThinkingContent) and c.signature
        ]
        encrypted = [i for i, opaque in items if not opaque and i.get("encrypted_content")]
        assert len(encrypted) == expected["encrypted_reasoning_items"]
        others = sorted({i["type"] for i, opaque in items if opaque})
        assert others == sorted(set(expected["other_item_types"]))


def test_there_are_cases_of_each_format() -> None:
    assert len(OPENAI_CASES) >= 28
    assert len(ANTHROPIC_CASES) >= 27
    assert len(RESPONSES_CASES) >= 39


@pytest.mark.parametrize(
    ("sse", "expected"), OPENAI_CASES, ids=[p.name.removesuffix(".sse") for p, _ in OPENAI_CASES]
)
async def test_openai_chat_conformance(sse: Path, expected: dict[str, Any], transport: str) -> None:
    seed = sum(sse.name.encode())
    async with LocalServer([sse_file_reply(sse, slices=(1, 97), seed=seed)]) as server:
        model = server.model(expected["model"] or "unnamed-model")
        message = await tinyagent.complete(
            model, tinyagent.Context(messages=[tinyagent.UserMessage("hi")]), transport=transport
        )
    assert_matches(message, expected)


@pytest.mark.parametrize(
    ("sse", "expected"),
    ANTHROPIC_CASES,
    ids=[p.name.removesuffix(".sse") for p, _ in ANTHROPIC_CASES],
)
async def test_anthropic_messages_conformance(
    sse: Path, expected: dict[str, Any], transport: str
) -> None:
    seed = sum(sse.name.encode())
    async with LocalServer([sse_file_reply(sse, slices=(1, 97), seed=seed)]) as server:
        model = server.model(expected["model"] or "unnamed-model", api="anthropic-messages")
        message = await tinyagent.complete(
            model, tinyagent.Context(messages=[tinyagent.UserMessage("hi")]), transport=transport
        )
    assert server.requests[0].path == "/v1/messages"
    assert_matches(message, expected)


@pytest.mark.parametrize(
    ("sse", "expected"),
    RESPONSES_CASES,
    ids=[p.name.removesuffix(".sse") for p, _ in RESPONSES_CASES],
)
async def test_openai_responses_conformance(
    sse: Path, expected: dict[str, Any], transport: str
) -> None:
    seed = sum(sse.name.encode())
    async with LocalServer([sse_file_reply(sse, slices=(1, 97), seed=seed)]) as server:
        model = server.model(expected["model"] or "unnamed-model", api="openai-responses")
        message = await tinyagent.complete(
            model, tinyagent.Context(messages=[tinyagent.UserMessage("hi")]), transport=transport
        )
    assert server.requests[0].path == "/v1/responses"
    assert_matches(message, expected)
