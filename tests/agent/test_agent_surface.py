"""The rest of the seed's Agent surface, end to end on every transport and both
backends: delivery modes, queue and transcript mutators, wait_for_idle, thinking level
and budgets, session_id, prompts with images or several messages, the richer state
(including the reply being streamed), and clear errors for the seed's call shapes."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import tinyagent
from tinyagent import (
    Agent,
    AgentBusyError,
    AgentEvent,
    AssistantMessage,
    ImageContent,
    MessageUpdateEvent,
    Model,
    TextContent,
    TextDeltaEvent,
    ThinkingLevel,
    UserMessage,
)
from tinyagent.testing import LocalServer, anthropic_text_reply, text_reply

from ..agent_helpers import add_tool

pytestmark = pytest.mark.anyio


def user_texts(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


@pytest.mark.parametrize("mode", ["one-at-a-time", "all"])
async def test_follow_up_delivery_modes(mode: str, transport: str) -> None:
    async with LocalServer([text_reply(str(i)) for i in range(4)]) as server:
        agent = Agent(server.model(), stream_options={"transport": transport})
        agent.set_follow_up_mode(mode)  # type: ignore[arg-type]
        assert agent.get_follow_up_mode() == mode
        agent.follow_up("first")
        agent.follow_up("second")
        await agent.prompt("start")
    if mode == "one-at-a-time":
        assert len(server.requests) == 3  # start, then each follow-up in its own turn
        assert user_texts(server.requests[1].json)[-1] == "first"
        assert user_texts(server.requests[2].json)[-1] == "second"
    else:
        assert len(server.requests) == 2
        assert user_texts(server.requests[1].json)[-2:] == ["first", "second"]


async def test_steering_mode_and_clearing_queues(transport: str) -> None:
    async with LocalServer([text_reply("a"), text_reply("b"), text_reply("c")]) as server:
        agent = Agent(server.model(), stream_options={"transport": transport})
        assert agent.get_steering_mode() == "one-at-a-time"
        agent.set_steering_mode("all")
        agent.steer("s1")
        agent.steer("s2")
        agent.follow_up("f1")
        agent.clear_steering_queue()
        assert [m.text for m in agent.queued] == ["f1"]
        agent.follow_up("f2")
        agent.clear_follow_up_queue()
        assert agent.queued == ()
        agent.steer("s3")
        agent.follow_up("f3")
        agent.clear_all_queues()
        assert agent.queued == ()
        await agent.prompt("only this")
        assert len(server.requests) == 1
    with pytest.raises(ValueError, match="delivery mode 'some'"):
        agent.set_steering_mode("some")  # type: ignore[arg-type]


async def test_transcript_mutators_and_wait_for_idle(transport: str) -> None:
    reply = text_reply("slow reply", chunk_size=1, chunk_delay=0.01)
    async with LocalServer([reply]) as server:
        agent = Agent(server.model(), stream_options={"transport": transport})
        await agent.wait_for_idle()  # idle: returns at once
        agent.append_message(UserMessage("earlier"))
        agent.append_message(AssistantMessage((TextContent("noted"),), tinyagent.StopReason.STOP))
        assert [m.text for m in agent.messages] == ["earlier", "noted"]
        async with anyio.create_task_group() as tg:
            tg.start_soon(agent.prompt, "now")
            await anyio.sleep(0.05)
            assert agent.state.is_streaming
            with pytest.raises(AgentBusyError):
                agent.replace_messages([])
            with pytest.raises(AgentBusyError):
                agent.clear_messages()
            await agent.wait_for_idle()
            assert not agent.state.is_streaming
            assert agent.messages[-1].text == "slow reply"
        agent.replace_messages([UserMessage("fresh")])
        assert [m.text for m in agent.messages] == ["fresh"]
        agent.clear_messages()
        assert agent.messages == ()


async def test_thinking_level_session_id_and_budgets(transport: str) -> None:
    async with LocalServer([text_reply("a"), text_reply("b")]) as gpt_server:
        agent = Agent(
            gpt_server.model(), session_id="sess-1", stream_options={"transport": transport}
        )
        await agent.prompt("no thinking")
        agent.set_thinking_level("high")
        assert agent.thinking_level is ThinkingLevel.HIGH and agent.state.thinking_level == "high"
        await agent.prompt("think")
    first, second = (r.json for r in gpt_server.requests)
    assert "reasoning_effort" not in first and first["prompt_cache_key"] == "sess-1"
    assert second["reasoning_effort"] == "high"
    async with LocalServer([anthropic_text_reply("c")]) as claude_server:
        claude = claude_server.model(api="anthropic-messages", max_tokens=20000)
        agent = Agent(
            claude,
            thinking_level="medium",
            thinking_budgets={"medium": 5000},
            stream_options={"transport": transport},
        )
        await agent.prompt("budgeted")
    body = claude_server.requests[0].json
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 5000}


async def test_prompts_with_images_and_several_messages(transport: str) -> None:
    async with LocalServer([text_reply("seen"), text_reply("both")]) as server:
        agent = Agent(server.model(), stream_options={"transport": transport})
        await agent.prompt("look", images=[ImageContent("AAAA", "image/png")])
        await agent.prompt([UserMessage("one"), UserMessage("two")])
    content = server.requests[0].json["messages"][0]["content"]
    assert content == [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    assert user_texts(server.requests[1].json)[-2:] == ["one", "two"]
    with pytest.raises(TypeError, match="not a mix of messages and parts"):
        await agent.prompt([UserMessage("x"), TextContent("y")])  # type: ignore[list-item]


async def test_state_shows_settings_and_the_reply_being_streamed(transport: str) -> None:
    reply = text_reply("Hello world, streamed.", chunk_size=3)
    async with LocalServer([reply]) as server:
        model = server.model()
        agent = Agent(model, "Be brief.", [add_tool], stream_options={"transport": transport})
        state = agent.state
        assert (state.model, state.system_prompt, state.tools) == (model, "Be brief.", (add_tool,))
        assert state.stream_message is None and state.error is None
        seen: list[tuple[str, str]] = []
        so_far = ""

        def listener(event: AgentEvent) -> None:
            nonlocal so_far
            if isinstance(event, MessageUpdateEvent) and isinstance(event.event, TextDeltaEvent):
                so_far += event.event.delta
                partial = agent.state.stream_message
                assert partial is not None
                seen.append((partial.text, so_far))

        agent.subscribe(listener)
        await agent.prompt("hi")
    assert seen and all(text == expected for text, expected in seen)
    assert seen[-1][1] == "Hello world, streamed."
    assert agent.state.stream_message is None


async def test_the_seeds_async_for_form_says_how_to_write_it() -> None:
    agent = Agent(Model("m", "http://127.0.0.1:9/v1"))
    with pytest.raises(TypeError, match=r"write `async with agent.stream\(prompt\) as events:`"):
        async for _ in agent.stream("hi"):  # type: ignore[attr-defined]
            pass
    with pytest.raises(TypeError, match=r"agent.stream_text\(...\) is an async context manager"):
        async for _ in agent.stream_text("hi"):  # type: ignore[attr-defined]
            pass


def test_the_seeds_call_shapes_get_clear_errors() -> None:
    with pytest.raises(ValueError, match="base_url is the API root, not an endpoint"):
        Model("gpt-4o", "https://api.openai.com/v1/chat/completions")
    with pytest.raises(ValueError, match="here it is 'openai-chat'"):
        tinyagent.stream(
            Model("m", "http://127.0.0.1:9/v1", api="openai-completions"),  # type: ignore[arg-type]
            tinyagent.Context(),
        )
