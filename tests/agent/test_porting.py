"""The porting guide (docs/porting.md) for users of tiny-agent-os: the table covers every
public name the seed exports, and each row of "What changed under the same names" runs
the seed's shape here and checks what the row says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

import tinyagent
from tinyagent import Agent, ImageContent, Model, Tool, ToolResult, UserMessage
from tinyagent.testing import LocalServer, error_reply, text_reply, tool_call_reply

pytestmark = pytest.mark.anyio

SECTION = (Path(__file__).resolve().parents[2] / "docs" / "porting.md").read_text()
CHANGED = SECTION.split("## What changed under the same names", 1)[1].split("\n## ", 1)[0]

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


def row(seed: str) -> str:
    """The table's row whose left cell holds ``seed``: what it says here."""
    for line in CHANGED.splitlines():
        if line.startswith("| ") and seed in line.split(" | ")[0]:
            return line.split(" | ", 1)[1]
    raise AssertionError(f"the porting table has no row for {seed}")


async def add_execute(call_id: str, args: dict[str, Any], update: Any) -> str:
    return str(args["a"] + args["b"])


ADD = Tool(
    "add",
    "Add two numbers.",
    {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}},
    add_execute,
)


async def run_with(replies: list[Any], *tools: Tool, **options: Any) -> tuple[Agent, list[Any]]:
    events: list[Any] = []
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=list(tools), **options)
        agent.subscribe(events.append)
        await agent.prompt("go")
    return agent, events


CALL_THEN_TEXT = [tool_call_reply([("add", {"a": 2, "b": 40})]), text_reply("42")]


async def test_event_fields_renamed() -> None:
    assert "`e.event`" in row("`e.assistant_message_event`")
    assert "`e.call.id`, `e.call.name`, `e.call.arguments`" in row("`e.tool_call_id`")
    assert "`e.partial`" in row("`e.partial_result`")

    async def progress(call_id: str, args: dict[str, Any], update: Any) -> str:
        await update(ToolResult("half way"))
        return "done"

    tool = Tool("add", "Add.", {"type": "object"}, progress)
    _, events = await run_with(CALL_THEN_TEXT, tool)
    update = next(e for e in events if e.type == "message_update")
    assert update.event.type in ("text_start", "text_delta", "toolcall_start", "start")
    assert not hasattr(update, "assistant_message_event")
    start = next(e for e in events if e.type == "tool_execution_start")
    assert (start.call.id, start.call.name, start.call.arguments) == (
        "call_0",
        "add",
        {"a": 2, "b": 40},
    )
    assert not hasattr(start, "tool_name") and not hasattr(start, "args")
    partial = next(e for e in events if e.type == "tool_execution_update")
    assert partial.partial.text == "half way" and (partial.call_id, partial.tool_name) == (
        "call_0",
        "add",
    )
    assert not hasattr(partial, "partial_result")
    end = next(e for e in events if e.type == "tool_execution_end")
    assert end.result.is_error is False


async def test_role_content_stop_and_stream_strings() -> None:
    assert '`"toolResult"`' in row('role `"tool_result"`')
    assert '`"toolCall"`' in row('content type `"tool_call"`')
    assert 'always `"tool_use"`' in row('stop reason `"tool_calls"`')
    assert "`toolcall_start`" in row("`tool_call_start`")
    agent, events = await run_with(CALL_THEN_TEXT, ADD)
    reply, result = agent.state.messages[1], agent.state.messages[2]
    assert result.role == "toolResult" and reply.content[0].type == "toolCall"
    assert reply.stop_reason == "tool_use" and reply.provider_stop_reason == "tool_calls"
    kinds = {e.event.type for e in events if e.type == "message_update"}
    assert {"toolcall_start", "toolcall_delta", "toolcall_end"} <= kinds
    assert not any(k.startswith("tool_call") for k in kinds)


async def test_turn_start_comes_after_the_user_messages() -> None:
    assert "after the user messages'" in row("`turn_start` before")
    _, events = await run_with([text_reply("hi")])
    kinds = [e.type for e in events]
    assert kinds[:4] == ["agent_start", "message_start", "message_end", "turn_start"]
    assert events[1].message.role == "user"


async def test_message_start_of_a_reply_has_no_message_yet() -> None:
    assert "`None` for an assistant reply" in row("`message_start.message`")
    _, events = await run_with([text_reply("hi")])
    starts = [e for e in events if e.type == "message_start"]
    assert starts[0].message.role == "user"
    assert starts[1].role == "assistant" and starts[1].message is None
    ends = [e for e in events if e.type == "message_end"]
    assert ends[1].message.text == "hi"


async def test_an_exception_inside_the_stream_block_comes_out_as_itself() -> None:
    assert "comes out as itself, never in an `ExceptionGroup`" in row("inside `async for e in")

    class Mine(Exception):
        pass

    async with LocalServer([text_reply("hi")]) as server:
        agent = Agent(server.model())
        caught: BaseException | None = None
        try:
            async with agent.stream("go") as events:
                async for _ in events:
                    raise Mine("stop here")
        except BaseException as exc:
            caught = exc
        assert type(caught) is Mine  # not an ExceptionGroup around it
        assert agent.state.is_streaming is False
        assert agent.state.messages[0].text == "go"  # the run closed out, transcript kept
    with pytest.raises(TypeError, match="async context manager"):
        async for _ in agent.stream("go"):  # type: ignore[attr-defined]
            pass


async def test_parallel_tools_end_in_the_order_they_finish() -> None:
    assert "in the order the calls finish" in row("parallel tools'")

    async def nap(call_id: str, args: dict[str, Any], update: Any) -> str:
        await anyio.sleep(args["s"])
        return f"slept {args['s']}"

    tool = Tool("nap", "Sleep.", {"type": "object"}, nap)
    calls = tool_call_reply([("nap", {"s": 0.3}), ("nap", {"s": 0.0})])
    async with LocalServer([calls, text_reply("ok")]) as server:
        agent = Agent(server.model(), tools=[tool])
        ends: list[str] = []
        agent.subscribe(
            lambda e: ends.append(e.call.id) if e.type == "tool_execution_end" else None
        )
        await agent.prompt("go")
        sent = server.requests[1].json["messages"]
    assert ends == ["call_1", "call_0"]  # finished first, ended first
    assert [m["tool_call_id"] for m in sent if m["role"] == "tool"] == ["call_0", "call_1"]


async def test_an_update_left_unawaited_is_an_error_result_that_says_so(
    recwarn: pytest.WarningsRecorder,
) -> None:
    assert "un-awaited makes the call an error result" in row("`on_update(partial)`")

    async def seed_style(call_id: str, args: dict[str, Any], update: Any) -> str:
        update(ToolResult("working"))  # the seed's plain call
        return "done"

    tool = Tool("add", "Add.", {"type": "object"}, seed_style)
    agent, _ = await run_with(CALL_THEN_TEXT, tool)
    result = agent.state.messages[2]
    assert result.is_error
    assert "called update(...) 1 time(s) without await" in result.text
    assert "await update(...)" in result.text
    assert not [w for w in recwarn if "never awaited" in str(w.message)]
    assert agent.state.messages[-1].text == "42"  # the run went on


async def test_dict_content_parts_are_read_as_content() -> None:
    assert "read as `TextContent`/`ImageContent`" in row("dict parts")

    async def seed_style(call_id: str, args: dict[str, Any], update: Any) -> ToolResult:
        return ToolResult(content=[{"type": "text", "text": "42"}])  # type: ignore[list-item]

    agent, _ = await run_with(CALL_THEN_TEXT, Tool("add", "Add.", {"type": "object"}, seed_style))
    result = agent.state.messages[2]
    assert not result.is_error and result.text == "42"
    image = ToolResult([{"type": "image", "data": "aGk=", "mimeType": "image/jpeg"}])  # type: ignore[list-item]
    assert image.content[0] == ImageContent("aGk=", "image/jpeg")
    with pytest.raises(TypeError, match=r"a dict \{'type': 'text', 'text': \.\.\.\}"):
        ToolResult([{"type": "text", "body": "42"}])  # type: ignore[list-item]


def test_a_seed_shaped_execute_is_refused_where_the_tool_is_made() -> None:
    assert "refused when the `Tool` is made" in row(
        "`execute(tool_call_id, args, signal, on_update)`"
    )

    async def seed_execute(
        tool_call_id: str, args: dict[str, Any], signal: Any, on_update: Any
    ) -> str:
        return "x"

    with pytest.raises(TypeError) as caught:
        Tool("sum", "Add.", {"type": "object"}, seed_execute)
    assert str(caught.value) == (
        "tool 'sum': execute is called as execute(call_id, args, update), but it takes "
        "(tool_call_id, args, signal, on_update) (the seed's execute(tool_call_id, args, "
        "signal, on_update)? drop `signal`: cancelling a tool is ordinary anyio cancellation)"
    )


def test_label_is_accepted_and_never_sent() -> None:
    assert "accepted and kept" in row("`AgentTool(label=...)`")
    tool = Tool("add", "Add.", {"type": "object"}, add_execute, label="Adder")
    assert tool.label == "Adder"
    assert "Adder" not in repr(tool)


async def test_get_api_key_receives_the_model() -> None:
    assert "`get_api_key(model: Model)`" in row("`get_api_key(provider: str)`")
    seen: list[Any] = []

    def key_for(model: Any) -> str:
        seen.append(model)
        return "sk-from-hook"

    async with LocalServer([text_reply("hi")]) as server:
        agent = Agent(server.model(), get_api_key=key_for)
        await agent.prompt("go")
        auth = server.requests[0].headers["authorization"]
    assert isinstance(seen[0], Model) and seen[0].provider == "local"
    assert auth == "Bearer sk-from-hook"


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ("stream_fn", "register a Provider"),
        ("initial_state", "pass messages=[...]"),
        ("enable_prompt_caching", "caching is on by default: cache='auto'"),
    ],
)
def test_the_seeds_options_say_what_replaces_them(option: str, says: str) -> None:
    assert f"`Agent({option}=)` is a `TypeError` that says so" in row(f"`AgentOptions({option}=")
    with pytest.raises(TypeError, match="from tiny-agent-os") as caught:
        Agent(**{option: True})
    assert says in str(caught.value)
    if option == "enable_prompt_caching":
        assert Model.from_name("anthropic:claude-sonnet-4-5").cache == "auto"


async def test_continue_returns_the_list_the_run_added() -> None:
    assert "returns the list of messages" in row("`await agent.continue_()`")
    async with LocalServer([text_reply("one"), text_reply("two")]) as server:
        agent = Agent(server.model())
        await agent.prompt("go")
        agent.append_message(UserMessage("and?"))
        added = await agent.continue_()
    assert isinstance(added, list) and added[-1].text == "two"


def test_state_is_a_frozen_snapshot() -> None:
    assert "a frozen snapshot" in row("`agent.state` a mutable model")
    agent = Agent()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        agent.state.system_prompt = "x"  # type: ignore[misc]
    agent.set_system_prompt("x")
    assert agent.state.system_prompt == "x"


async def test_the_seeds_runtime_errors_are_still_runtime_errors() -> None:
    assert "still a `RuntimeError`" in row("`RuntimeError` for a busy agent")
    with pytest.raises(RuntimeError, match="has no model"):
        await Agent().prompt("hi")
    assert issubclass(tinyagent.NoModelError, tinyagent.TinyAgentError)
    async with LocalServer([error_reply(500)] * 3) as server:
        agent = Agent(server.model(), stream_options={"max_retries": 0})
        with pytest.raises(RuntimeError) as caught:
            await agent.prompt_text("hi")
    assert isinstance(caught.value, tinyagent.ReplyError)
    assert issubclass(tinyagent.AgentBusyError, RuntimeError)
    assert not issubclass(tinyagent.TinyAgentError, RuntimeError)
    assert issubclass(tinyagent.TransportError, OSError)
