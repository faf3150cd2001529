"""One conversation moving from an OpenAI-compatible model to an Anthropic one and back,
through ``Agent.set_model``: every request is valid for the model it goes to."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tinyagent import Agent, AssistantMessage, StopReason, ThinkingContent
from tinyagent.testing import (
    LocalServer,
    ToolCallSpec,
    anthropic_text_reply,
    anthropic_tool_call_reply,
    responses_text_reply,
    responses_tool_call_reply,
    text_reply,
    tool_call_reply,
)

from ..agent_helpers import add_tool

pytestmark = pytest.mark.anyio
ODD_ID = "call_abc|Zx+/=" + "q" * 70  # a Responses-style id Anthropic would reject


def ids_in(body: dict[str, Any]) -> tuple[list[str], list[str]]:
    uses, results = [], []
    for m in body["messages"]:
        for b in m["content"] if isinstance(m["content"], list) else []:
            if b.get("type") == "tool_use":
                uses.append(b["id"])
            elif b.get("type") == "tool_result":
                results.append(b["tool_use_id"])
    return uses, results


async def test_a_conversation_moves_between_providers_and_back(transport: str) -> None:
    gpt_replies = [
        tool_call_reply([ToolCallSpec("add", {"a": 1, "b": 2}, id=ODD_ID)]),
        text_reply("3"),
        text_reply("still 3"),
    ]
    claude_replies = [
        anthropic_tool_call_reply(
            [("add", {"a": 3, "b": 4})], thinking="Add them.", signature="SIG-1"
        ),
        anthropic_text_reply("7"),
        anthropic_text_reply("done"),
    ]
    async with LocalServer(gpt_replies) as gpt_server, LocalServer(claude_replies) as claude_server:
        gpt = gpt_server.model("gpt-x", provider="openai")
        claude = claude_server.model("claude-x", provider="anthropic", api="anthropic-messages")
        agent = Agent(gpt, tools=[add_tool], stream_options={"transport": transport})

        assert await agent.prompt_text("1+2?") == "3"
        agent.set_model(claude)
        assert await agent.prompt_text("and 3+4?") == "7"
        agent.set_model(gpt)
        assert await agent.prompt_text("and before?") == "still 3"
        agent.set_model(claude)
        assert await agent.prompt_text("thanks") == "done"

    # Claude's first request: the OpenAI tool id rewritten, the same in call and result.
    first = claude_server.requests[0].json
    uses, results = ids_in(first)
    assert uses == results and len(uses) == 1 and uses[0] != ODD_ID
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", uses[0])
    # Back on GPT: the signed thinking went as nothing (and no signature left Claude).
    back = gpt_server.requests[2]
    assert b"SIG-1" not in back.raw_body
    assert [m["role"] for m in back.json["messages"]][:2] == ["user", "assistant"]
    tool_ids = [c["id"] for m in back.json["messages"] for c in m.get("tool_calls") or []]
    assert tool_ids == [ODD_ID, "toolu_0"]  # each model's own ids are valid for OpenAI
    # Back on Claude: its own signed thinking is sent back unchanged, in place.
    last = claude_server.requests[2].json
    thinking = [b for m in last["messages"] for b in m["content"] if b["type"] == "thinking"]
    assert thinking == [{"type": "thinking", "thinking": "Add them.", "signature": "SIG-1"}]
    msgs = [m for m in agent.state.messages if isinstance(m, AssistantMessage)]
    assert [m.api for m in msgs] == [
        "openai-chat",
        "openai-chat",
        "anthropic-messages",
        "anthropic-messages",
        "openai-chat",
        "anthropic-messages",
    ]
    assert msgs[2].content[0] == ThinkingContent("Add them.", "SIG-1")
    assert all(m.stop_reason in (StopReason.STOP, StopReason.TOOL_USE) for m in msgs)


def _done_items(reply: Any) -> list[bytes]:
    """The exact bytes of each reasoning item a scripted Responses reply sends."""
    out = []
    for piece in reply.pieces:
        data = json.loads(piece.split(b"data: ", 1)[1])
        if data["type"] == "response.output_item.done" and data["item"]["type"] == "reasoning":
            out.append(json.dumps(data["item"], separators=(",", ":")).encode())
    return out


async def test_responses_reasoning_goes_back_byte_for_byte_and_survives_a_detour(
    transport: str,
) -> None:
    first = responses_tool_call_reply(
        [ToolCallSpec("add", {"a": 1, "b": 2}, id="call_r1")],
        reasoning="I should add.",
        encrypted="ENC-1",
        response_id="resp_1",
    )
    second = responses_text_reply("3", reasoning="", encrypted="ENC-2", response_id="resp_2")
    later = responses_text_reply("back", response_id="resp_3")
    async with (
        LocalServer([first, second, later]) as gpt_server,
        LocalServer([text_reply("chat sees 3")]) as chat_server,
        LocalServer([anthropic_text_reply("claude sees 3")]) as claude_server,
    ):
        gpt = gpt_server.model("gpt-r", provider="openai", api="openai-responses")
        chat = chat_server.model("gpt-c", provider="openai")
        claude = claude_server.model("claude-x", provider="anthropic", api="anthropic-messages")
        agent = Agent(gpt, tools=[add_tool], stream_options={"transport": transport})

        assert await agent.prompt_text("1+2?") == "3"
        # Turn 2 sends turn 1's reasoning item exactly as it came, then the call that
        # followed it, under that call's item id.
        (item1,) = _done_items(first)
        turn2 = gpt_server.requests[1]
        assert item1 in turn2.raw_body
        inputs = turn2.json["input"]
        at = inputs.index(json.loads(item1))
        assert inputs[at + 1]["type"] == "function_call"
        assert inputs[at + 1]["id"] == "fc_resp_1_1" and inputs[at + 1]["call_id"] == "call_r1"
        assert inputs[at + 2] == {
            "type": "function_call_output",
            "call_id": "call_r1",
            "output": "3",
        }

        agent.set_model(chat)
        assert await agent.prompt_text("chat?") == "chat sees 3"
        agent.set_model(claude)
        assert await agent.prompt_text("claude?") == "claude sees 3"
        agent.set_model(gpt)
        assert await agent.prompt_text("back?") == "back"

    # The detours saw no reasoning blob, only text and valid tool history.
    chat_body = chat_server.requests[0].json
    assert "ENC-1" not in json.dumps(chat_body)
    assert [m["role"] for m in chat_body["messages"]][:4] == [
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    claude_body = claude_server.requests[0].json
    assert "ENC-1" not in json.dumps(claude_body)
    # Back on the model that made them, both reasoning items go back, as they came.
    final = gpt_server.requests[2].raw_body
    (item2,) = _done_items(second)
    assert item1 in final and item2 in final
