"""The seed's own client (``stream_proxy`` from PyPI ``tiny-agent-os`` 1.2.29, copied in
``seed_client/``, see its NOTICE) streams through our server: text, thinking, a tool
call, and ``error`` events for a bad model and a provider failure."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tinyagent.testing import chunk, chunks_reply, error_reply

from ._served import served

pytestmark = pytest.mark.anyio

SEED = Path(__file__).resolve().parent / "seed_client"


async def _seed(url: str, *args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(SEED)}
    done = await anyio.run_process(
        [sys.executable, str(SEED / "run_seed_client.py"), url, "tok", *args], env=env, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    result: dict[str, Any] = json.loads(done.stdout)
    return result


async def test_the_seed_client_streams_text_and_thinking() -> None:
    reply = chunks_reply(
        [
            chunk({"role": "assistant", "reasoning_content": "let me "}),
            chunk({"reasoning_content": "add"}),
            chunk({"content": "It is "}),
            chunk({"content": "42."}),
            chunk(
                {},
                finish_reason="stop",
                usage={"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
            ),
        ]
    )
    async with served([reply]) as (url, _):
        seen = await _seed(url, "local", "mock-model", "add 2 and 40", "--reasoning", "low")
    kinds = [e["type"] for e in seen["events"]]
    assert kinds == ["start", "thinking_start", "thinking_delta", "thinking_delta", "thinking_end",
                     "text_start", "text_delta", "text_delta", "text_end", "done"]  # fmt: skip
    final = seen["final"]
    assert final["stop_reason"] == "stop"
    assert final["content"] == [
        {"type": "thinking", "thinking": "let me add"},
        {"type": "text", "text": "It is 42."},
    ]
    assert final["usage"]["input"] == 5 and final["usage"]["output"] == 3


async def test_the_seed_client_sees_a_tool_call() -> None:
    async with served() as (url, model_server):
        seen = await _seed(url, "local", "mock-model", "add 2 and 40", "--tools")
        sent = model_server.requests[-1].json
    assert sent["tools"][0]["function"]["name"] == "add"
    final = seen["final"]
    assert final["stop_reason"] == "tool_use"
    (call,) = final["content"]
    assert call["type"] == "tool_call" and call["name"] == "add"
    assert call["arguments"] == {"a": 2.0, "b": 40.0}
    assert "tool_call_end" in [e["type"] for e in seen["events"]]


async def test_the_seed_client_gets_an_error_event_for_a_bad_model() -> None:
    async with served() as (url, _):
        seen = await _seed(url, "local", "gpt-9", "hi")
    assert [e["type"] for e in seen["events"]] == ["error"]
    assert seen["final"]["stop_reason"] == "error"
    assert seen["final"]["error_message"] == "Proxy error: 404"


async def test_the_seed_client_gets_an_error_event_for_a_provider_failure() -> None:
    async with served([error_reply(503, "the upstream is down")] * 3) as (url, _):
        seen = await _seed(url, "local", "mock-model", "hi")
    assert [e["type"] for e in seen["events"]] == ["start", "error"]
    assert seen["final"]["stop_reason"] == "error"
    assert "the upstream is down" in seen["final"]["error_message"]
