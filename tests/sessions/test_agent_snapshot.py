"""``agent.save(path)`` / ``Agent.load(path)``: a whole-agent snapshot through the one
converter; a newer or damaged file gives a clear error and no agent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinyagent import (
    Agent,
    AssistantMessage,
    Model,
    StopReason,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from tinyagent.testing import LocalServer, text_reply

from ..agent_helpers import add_tool

MODEL = Model("m", "http://127.0.0.1:9/v1", api_key="sk-secret-never-saved")
HISTORY = [
    UserMessage("add 1 and 2"),
    AssistantMessage(
        (ThinkingContent("Add.", "sig"), ToolCall("c1", "add", {"a": 1, "b": 2})),
        StopReason.TOOL_USE,
        model="m",
    ),
    ToolResultMessage("c1", "add", "3"),
    AssistantMessage((TextContent("3"),), StopReason.STOP, model="m"),
]


def test_a_snapshot_round_trips_without_the_key(tmp_path: Path) -> None:
    agent = Agent(
        MODEL,
        "Be brief.",
        [add_tool],
        messages=HISTORY,
        session_id="s-1",
        thinking_level="high",
        thinking_budgets={"high": 9000},
        follow_up_mode="all",
        tool_timeout=30,
        max_turns=5,
        stream_options={"temperature": 0.2, "api_key": "sk-also-secret"},
        before_turn=lambda turn, model: None,  # code: not saved
    )
    path = tmp_path / "agent.json"
    agent.save(path)
    text = path.read_text()
    assert "sk-secret-never-saved" not in text and "sk-also-secret" not in text
    back = Agent.load(path, tools=[add_tool])
    assert back.messages == agent.messages
    assert back.model is not None and back.model.id == "m" and back.model.api_key is None
    assert back.system_prompt == "Be brief." and back.tools == (add_tool,)
    assert (back.session_id, back.thinking_level, back.thinking_budgets) == (
        "s-1",
        "high",
        {"high": 9000},
    )
    assert back.get_follow_up_mode() == "all" and back.get_steering_mode() == "one-at-a-time"
    assert back._options["tool_timeout"] == 30 and back._options["max_turns"] == 5
    assert back._options["stream_options"] == {"temperature": 0.2}
    assert "before_turn" not in back._options


@pytest.mark.anyio
async def test_a_loaded_agent_goes_on(tmp_path: Path, transport: str) -> None:
    async with LocalServer([text_reply("4")]) as server:
        Agent(server.model(), messages=HISTORY).save(tmp_path / "a.json")
        agent = Agent.load(tmp_path / "a.json", stream_options={"transport": transport})
        assert await agent.prompt_text("and 2 + 2?") == "4"
        sent = server.requests[0].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "assistant", "user"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "something-else"}', "is not an agent snapshot"),
        (
            '{"format": "tinyagent.agent", "version": 99}',
            r"saved by a newer tinyagent \(snapshot version 99\)",
        ),
        (
            '{"format": "tinyagent.agent", "version": 1, "messages": [{"role": "alien"}]}',
            "damaged agent snapshot",
        ),
        (
            '{"format": "tinyagent.agent", "version": 1, "model": {"id": 3}}',
            "damaged agent snapshot",
        ),
    ],
)
def test_a_bad_file_is_a_clear_error(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=words):
        Agent.load(path)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (
            '{"format": "tinyagent.agent", "version": 1, "system_prompt": '
            + "[" * 500
            + "]" * 500
            + "}",
            "damaged agent snapshot",
        ),
        (bytes(range(128, 256)) * 4, "not UTF-8 text"),
    ],
)
def test_a_hostile_file_is_a_clear_error_naming_it(
    tmp_path: Path, content: str | bytes, words: str
) -> None:
    path = tmp_path / "hostile.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ValueError, match=words) as info:
        Agent.load(path)
    assert str(path) in str(info.value)


def test_saving_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    Agent(MODEL, messages=HISTORY[:1]).save(path)
    Agent(MODEL, messages=HISTORY).save(path)
    assert len(json.loads(path.read_text())["messages"]) == 4
    assert [p.name for p in tmp_path.iterdir()] == ["agent.json"], "no temporary file left"
