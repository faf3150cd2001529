"""One conversation, with tool calls and signed reasoning, moved through all five wire
formats (chat completions → Anthropic → Responses → Gemini → Bedrock → Anthropic) with
``Agent.set_model``: each outgoing request is checked against its format's rules (ids
a format accepts, consistent between calls and results; reasoning only to the model
that signed it; roles and tool results as each format writes them)."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from tinyagent import Agent
from tinyagent.testing import (
    LocalServer,
    ToolCallSpec,
    anthropic_text_reply,
    anthropic_tool_call_reply,
    bedrock_text_reply,
    bedrock_tool_call_reply,
    gemini_text_reply,
    gemini_tool_call_reply,
    responses_text_reply,
    responses_tool_call_reply,
    text_reply,
    tool_call_reply,
)

from ..agent_helpers import add_tool

pytestmark = pytest.mark.anyio
ODD_ID = "call_abc|Zx+/=" + "q" * 70  # an id Anthropic and Bedrock would reject
SAFE = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def anthropic_ids(body: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    uses, results, signatures = [], [], []
    for m in body["messages"]:
        for b in m["content"] if isinstance(m["content"], list) else []:
            if b.get("type") == "tool_use":
                uses.append(b["id"])
            elif b.get("type") == "tool_result":
                results.append(b["tool_use_id"])
            elif b.get("type") == "thinking":
                signatures.append(b["signature"])
    return uses, results, signatures


def roles_alternate(turns: list[dict[str, Any]], key: str = "role") -> bool:
    return all(a[key] != b[key] for a, b in itertools.pairwise(turns))


async def test_one_transcript_through_all_five_formats(transport: str) -> None:
    chat = [tool_call_reply([ToolCallSpec("add", {"a": 1, "b": 2}, id=ODD_ID)]), text_reply("3")]
    claude = [
        anthropic_tool_call_reply([("add", {"a": 3, "b": 4})], thinking="Add.", signature="A-SIG"),
        anthropic_text_reply("7"),
        anthropic_text_reply("back"),
    ]
    responses = [responses_tool_call_reply([("add", {"a": 5, "b": 6})]), responses_text_reply("11")]
    gemini = [
        gemini_tool_call_reply([("add", {"a": 7, "b": 8})], signature="G-SIG"),
        gemini_text_reply("15"),
    ]
    bedrock = [bedrock_tool_call_reply([("add", {"a": 9, "b": 10})]), bedrock_text_reply("19")]
    async with (
        LocalServer(chat) as s_chat,
        LocalServer(claude) as s_claude,
        LocalServer(responses) as s_resp,
        LocalServer(gemini) as s_gem,
        LocalServer(bedrock) as s_bed,
    ):
        models = {
            "chat": s_chat.model("gpt-x", provider="openai"),
            "claude": s_claude.model("claude-x", provider="anthropic", api="anthropic-messages"),
            "responses": s_resp.model("gpt-5", provider="openai", api="openai-responses"),
            "gemini": s_gem.model("gemini-x", provider="google", api="google-gemini"),
            "bedrock": s_bed.model(
                "anthropic.claude-x", provider="bedrock", api="bedrock-converse"
            ),
        }
        agent = Agent(models["chat"], tools=[add_tool], stream_options={"transport": transport})
        answers = [await agent.prompt_text("1+2?")]
        for name, question in [("claude", "3+4?"), ("responses", "5+6?"), ("gemini", "7+8?"),
                               ("bedrock", "9+10?"), ("claude", "and?")]:  # fmt: skip
            agent.set_model(models[name])
            answers.append(await agent.prompt_text(question))
        bodies = {
            "claude": [r.json for r in s_claude.requests],
            "responses": [r.json for r in s_resp.requests],
            "gemini": [r.json for r in s_gem.requests],
            "bedrock": [r.json for r in s_bed.requests],
        }
    assert answers == ["3", "7", "11", "15", "19", "back"]

    # Anthropic, last: every call id rewritten consistently, its own signature kept only
    uses, results, signatures = anthropic_ids(bodies["claude"][-1])
    assert len(uses) == 5 and uses == results and all(SAFE.fullmatch(i) for i in uses)
    assert signatures == ["A-SIG"]
    assert roles_alternate(bodies["claude"][-1]["messages"])

    # Gemini: user/model turns only, no foreign reasoning, results as functionResponse
    contents = bodies["gemini"][0]["contents"]
    assert {t["role"] for t in contents} == {"user", "model"} and roles_alternate(contents)
    parts = [p for t in contents for p in t["parts"]]
    assert not any("thought" in p or "thoughtSignature" in p for p in parts)
    assert sum("functionCall" in p for p in parts) == 3
    assert sum("functionResponse" in p for p in parts) == 3
    # its own signature goes back on its call, in the request after the call
    model_turn = bodies["gemini"][1]["contents"][-2]
    assert model_turn["parts"][-1]["thoughtSignature"] == "G-SIG"

    # Bedrock: ids valid and consistent, results as toolResult in user turns, no reasoning
    messages = bodies["bedrock"][0]["messages"]
    assert roles_alternate(messages)
    blocks = [b for m in messages for b in m["content"]]
    used = [b["toolUse"]["toolUseId"] for b in blocks if "toolUse" in b]
    answered = [b["toolResult"]["toolUseId"] for b in blocks if "toolResult" in b]
    assert len(used) == 4 and used == answered and all(SAFE.fullmatch(i) for i in used)
    assert not any("reasoningContent" in b for b in blocks)
    assert "toolConfig" in bodies["bedrock"][0]

    # Responses: the earlier turns as items, no reasoning from any other model
    items = bodies["responses"][0]["input"]
    assert sum(i.get("type") == "function_call" for i in items) == 2
    assert sum(i.get("type") == "function_call_output" for i in items) == 2
    assert not any(i.get("type") == "reasoning" for i in items)
