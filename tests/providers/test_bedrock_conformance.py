"""Real recorded Bedrock ConverseStream bodies (``tests/conformance/``, ``format:
bedrock-converse``: AWS event-stream frames), served in random slices as recorded
(status and content type included), read through complete() on every transport."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tinyagent
from tinyagent.testing import LocalServer

from .conformance_cases import cases, served

pytestmark = pytest.mark.anyio


CASES = cases("bedrock-converse", ".bin")


def test_there_are_bedrock_cases() -> None:
    assert len(CASES) >= 8


@pytest.mark.parametrize(
    ("path", "expected"), CASES, ids=[p.name.removesuffix(".bin") for p, _ in CASES]
)
async def test_bedrock_conformance(path: Path, expected: dict[str, Any], transport: str) -> None:
    async with LocalServer([served(path, expected)]) as server:
        model = server.model(expected["model"] or "unnamed-model", api="bedrock-converse")
        message = await tinyagent.complete(
            model,
            tinyagent.Context(messages=[tinyagent.UserMessage("hi")]),
            transport=transport,
            max_retries=0,
        )
    assert server.requests[0].path == f"/v1/model/{model.id.replace(':', '%3A')}/converse-stream"
    assert message.text == expected["text"]
    assert message.thinking == expected["reasoning"]
    calls = [(c.id, c.name, c.arguments) for c in message.tool_calls]
    assert calls == [
        (c["id"], c["name"], json.loads(c["arguments"])) for c in expected["tool_calls"]
    ]
    thinking = [c for c in message.content if isinstance(c, tinyagent.ThinkingContent)]
    assert [c.signature or "" for c in thinking if not c.redacted] == expected[
        "thinking_signatures"
    ]
    assert sum(c.redacted for c in thinking) == expected["redacted_thinking_blocks"]
    assert message.provider_stop_reason == expected["finish_reason"]
    if expected["usage"] is not None:
        u = message.usage
        got = {"input": u.input, "output": u.output, "cache_read": u.cache_read,
               "cache_write": u.cache_write, "reasoning": u.reasoning}  # fmt: skip
        assert got == expected["usage"]
    if expected["error"] is not None:
        assert message.stop_reason is tinyagent.StopReason.ERROR
        assert expected["error"] in (message.error_message or "")
    else:
        assert message.stop_reason is not tinyagent.StopReason.ERROR, message.error_message
