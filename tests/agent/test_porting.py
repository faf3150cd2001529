"""The README's guide for users of tiny-agent-os: the seed's quick start runs as ported,
and the table covers every public name the seed exports."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tinyagent.testing import LocalServer, text_reply

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
SECTION = README.split("## Coming from tiny-agent-os", 1)[1].split("\n## ", 1)[0]

# tiny-agent-os 1.2.29, tinyagent/__init__.py: __all__
SEED_EXPORTS = [
    "Agent", "AgentOptions", "default_convert_to_llm", "extract_text", "agent_loop",
    "agent_loop_continue", "create_agent_stream", "stream_assistant_response", "stream_simple",
    "execute_tool_calls", "skip_tool_call", "validate_tool_arguments", "ThinkingLevel",
    "TextContent", "ImageContent", "ToolCall", "ToolCallContent", "UserMessage",
    "AssistantMessage", "ToolResultMessage", "CustomAgentMessage", "Message", "AgentMessage",
    "AgentToolResult", "ToolLoopControl", "Tool", "AgentTool", "AgentToolUpdateCallback",
    "Context", "AgentContext", "Model", "SimpleStreamOptions", "AssistantMessageEvent",
    "StreamResponse", "AgentStartEvent", "AgentEndEvent", "TurnStartEvent", "TurnEndEvent",
    "MessageStartEvent", "MessageUpdateEvent", "MessageEndEvent", "ToolExecutionStartEvent",
    "ToolExecutionUpdateEvent", "ToolExecutionEndEvent", "AgentEvent", "AgentLoopConfig",
    "AgentState", "EventStream", "StreamFn", "BeforeToolCallFn", "AfterToolCallFn",
    "ShouldStopAfterTurnFn", "ProxyStreamOptions", "ProxyStreamResponse", "stream_proxy",
    "create_proxy_stream", "parse_streaming_json",
]  # fmt: skip

# The seed Agent's public methods and properties (tiny-agent-os 1.2.29, agent.py).
SEED_AGENT = [
    "session_id", "thinking_budgets", "state", "subscribe", "set_system_prompt", "set_model",
    "set_thinking_level", "set_steering_mode", "get_steering_mode", "set_follow_up_mode",
    "get_follow_up_mode", "set_tools", "replace_messages", "append_message", "steer",
    "follow_up", "clear_steering_queue", "clear_follow_up_queue", "clear_all_queues",
    "clear_messages", "abort", "wait_for_idle", "reset", "prompt", "prompt_text", "stream",
    "stream_text", "continue_",
]  # fmt: skip


def test_the_table_covers_every_name_the_seed_exports() -> None:
    table = [line for line in SECTION.splitlines() if line.startswith("| `")]
    left = " ".join(line.split(" | ")[0] for line in table)
    missing = [name for name in SEED_EXPORTS if f"`{name}`" not in left]
    assert missing == []


def test_every_seed_agent_method_exists_here() -> None:
    from tinyagent import Agent

    agent = Agent()
    assert [name for name in SEED_AGENT if not hasattr(agent, name)] == []
    assert all(f"`{name}`" in SECTION for name in SEED_AGENT)


@pytest.mark.anyio
async def test_the_seeds_quick_start_runs_as_ported(capsys: pytest.CaptureFixture[str]) -> None:
    block = re.search(r"```python\n(.*?)```", SECTION, re.S)
    assert block is not None
    code = block.group(1)
    model_line = 'agent.set_model("openrouter:anthropic/claude-3.5-sonnet")'
    assert model_line in code and "asyncio.run(main())" in code
    code = code.replace(model_line, "agent.set_model(SERVER.model())")
    code = code.replace("asyncio.run(main())", "")  # this test's own loop runs it
    async with LocalServer([text_reply("Paris.")]) as server:
        namespace: dict[str, Any] = {"SERVER": server}
        exec(code, namespace)
        await namespace["main"]()
        body = server.requests[0].json
    assert capsys.readouterr().out.strip() == "Paris."
    assert body["prompt_cache_key"] == "my-session"
    assert body["messages"][0] == {"role": "system", "content": "You are a helpful assistant."}
    from tinyagent import Model

    seed_model = Model.from_name("openrouter:anthropic/claude-3.5-sonnet")
    assert seed_model.base_url == "https://openrouter.ai/api/v1"
