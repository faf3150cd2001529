"""Real recorded Gemini streams (``tests/conformance/``, ``format: google-gemini``),
served in random slices as recorded (status and content type included), read through
complete() on every transport."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tinyagent
from tinyagent.testing import LocalServer

from .conformance_cases import cases, served

pytestmark = pytest.mark.anyio


CASES = cases("google-gemini")


def signatures(message: tinyagent.AssistantMessage) -> tuple[list[str], list[str | None]]:
    """Every thought signature in order, and the one each tool call carries."""
    every: list[str] = []
    per_call: list[str | None] = []
    before: str | None = None
    for c in message.content:
        if isinstance(c, tinyagent.ThinkingContent) and c.signature:
            every.append(c.signature)
            before = c.signature if c.redacted else None
            continue
        if isinstance(c, tinyagent.ToolCall):
            per_call.append(before)
        before = None
    return every, per_call


def test_there_are_gemini_cases() -> None:
    assert len(CASES) >= 13


@pytest.mark.parametrize(
    ("path", "expected"), CASES, ids=[p.name.removesuffix(".sse") for p, _ in CASES]
)
async def test_gemini_conformance(path: Path, expected: dict[str, Any], transport: str) -> None:
    async with LocalServer([served(path, expected)]) as server:
        model = server.model(expected["model"] or "unnamed-model", api="google-gemini")
        message = await tinyagent.complete(
            model,
            tinyagent.Context(messages=[tinyagent.UserMessage("hi")]),
            transport=transport,
            max_retries=0,
        )
    request = server.requests[0]
    assert request.path == f"/v1/models/{model.id}:streamGenerateContent?alt=sse"
    assert message.text == expected["text"]
    assert message.thinking == expected["reasoning"]
    calls = [(c.id, c.name, c.arguments) for c in message.tool_calls]
    assert calls == [
        (c["id"] or f"call_{i}", c["name"], json.loads(c["arguments"]))
        for i, c in enumerate(expected["tool_calls"])
    ]
    every, per_call = signatures(message)
    assert every == expected["thought_signatures"]
    assert per_call == [c["thought_signature"] for c in expected["tool_calls"]]
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
        wanted = "tool_use" if expected["tool_calls"] else "stop"
        assert message.stop_reason == wanted
    if expected["http_status"] == 429:
        assert message.failure is not None and message.failure.kind == "rate_limit"
        assert message.failure.retry_after is not None  # RetryInfo.retryDelay
