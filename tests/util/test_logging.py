"""The ``tinyagent`` logger: silent by default, on with ``TINYAGENT_LOG``, and it never
writes a key, at any level, on any transport, whatever happens."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

import tinyagent
from tinyagent import Agent, Tool, ToolError
from tinyagent.testing import (
    LocalServer,
    Reply,
    ToolCallSpec,
    anthropic_text_reply,
    error_reply,
    responses_text_reply,
    text_reply,
    tool_call_reply,
)

from ..conftest import ROOT

KEY = "sk-test-DO-NOT-LOG-4242"


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + repr(record.__dict__))


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[Capture]:
    monkeypatch.setenv("TINYAGENT_LOG_BODIES", "1")  # the most it ever writes
    logger = logging.getLogger("tinyagent")
    handler = Capture()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    old = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old)


async def _fail(call_id: str, args: dict[str, Any], update: Any) -> str:
    raise ToolError("no such file")


async def _slow(call_id: str, args: dict[str, Any], update: Any) -> str:
    await anyio.sleep(10)
    return "late"


@pytest.mark.anyio
async def test_no_key_in_any_line_at_any_level(captured: Capture, transport: str) -> None:
    tools = [
        Tool("fail", "Fails.", {"type": "object"}, _fail),
        Tool("slow", "Slow.", {"type": "object"}, _slow, timeout=0.05),
    ]
    overloaded = error_reply(429, "slow down").but(headers={"retry-after": "0"})
    replies: list[Reply] = [
        overloaded,
        tool_call_reply([ToolCallSpec("fail", {}), ToolCallSpec("slow", {})]),
        text_reply("done"),
    ]
    async with LocalServer(replies) as server:
        agent = Agent(
            server.model(api_key=KEY),
            tools=tools,
            stream_options={"transport": transport, "headers": {"x-custom-auth": KEY}},
        )
        await agent.prompt("go")
    async with LocalServer([anthropic_text_reply("hi"), responses_text_reply("hi")]) as server:
        for api in ("anthropic-messages", "openai-responses"):
            model = server.model(api=api, api_key=KEY)  # type: ignore[arg-type]
            await tinyagent.complete(model, tinyagent.Context(messages=[]), transport=transport)
    async with LocalServer([text_reply("x" * 200, chunk_size=1, chunk_delay=0.01)]) as server:
        agent = Agent(server.model(api_key=KEY), stream_options={"transport": transport})
        async with anyio.create_task_group() as tg:
            tg.start_soon(agent.prompt, "go")
            await anyio.sleep(0.2)
            agent.abort("user stop")

    text = "\n".join(captured.lines)
    assert KEY not in text
    assert f"request POST {server.base_url}/chat/completions model=mock-model" in text
    assert f"transport={transport}" in text and "api=anthropic-messages" in text
    assert "retry 1 of 2 in 0.00 s (Retry-After) after rate_limit (429): HTTP 429" in text
    assert "tool fail" in text and "refused: no such file" in text
    assert "tool slow" in text and "timed out after 0.05 s" in text
    assert "run ended aborted: user stop" in text
    assert "request body {" in text  # bodies, when asked for, still without the key


def _demo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tinyagent", "demo"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        timeout=60,
        check=True,
    )


def test_silent_by_default_and_on_with_the_variable() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TINYAGENT_LOG")}
    quiet = subprocess.run(
        [sys.executable, "-m", "tinyagent", "demo"],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(ROOT)},
        timeout=60,
        check=True,
    )
    assert quiet.stderr == ""
    loud = _demo({"TINYAGENT_LOG": "debug"})
    assert "tinyagent DEBUG request POST http://127.0.0.1:" in loud.stderr
    assert "/chat/completions model=demo-model api=openai-chat" in loud.stderr
    info = _demo({"TINYAGENT_LOG": "info"})
    assert "request POST" not in info.stderr
    wrong = _demo({"TINYAGENT_LOG": "loud"})
    assert "TINYAGENT_LOG='loud' is not one of debug, info, warning" in wrong.stderr
