"""The official ``openai`` SDK as a client of a served agent: chat completions and
Responses, streamed and fetched, with a server-side tool call in between, and the
API's errors (bad token, unknown agent, too many runs)."""

from __future__ import annotations

import anyio
import openai
import pytest

from tinyagent import Agent, tool
from tinyagent.serve import Limits, Token

from ._served import served

pytestmark = pytest.mark.anyio


def _client(url: str, key: str = "none") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


async def test_chat_completions_fetched_runs_the_agents_tool() -> None:
    async with served() as (url, model_server):
        async with _client(url) as client:
            reply = await client.chat.completions.create(
                model="calc", messages=[{"role": "user", "content": "add 2 and 40"}]
            )
        # two model calls: the tool call, run on the server, then the answer
        assert len(model_server.requests) == 2
        assert model_server.requests[1].json["messages"][-1]["role"] == "tool"
    assert reply.choices[0].message.content == "42.0"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model == "calc"
    assert reply.usage is not None and reply.usage.total_tokens > 0


async def test_chat_completions_streamed() -> None:
    async with served() as (url, _):
        async with _client(url) as client:
            stream = await client.chat.completions.create(
                model="calc",
                messages=[
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "add 2 and 40"},
                ],
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "42.0"
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].choices == []


async def test_a_chat_conversation_continues_by_sending_the_messages_back() -> None:
    async with served() as (url, model_server):
        async with _client(url) as client:
            first = [{"role": "user", "content": "add 2 and 40"}]
            reply = await client.chat.completions.create(model="calc", messages=first)
            again = [
                *first,
                {"role": "assistant", "content": reply.choices[0].message.content},
                {"role": "user", "content": "and 1 and 1?"},
            ]
            await client.chat.completions.create(model="calc", messages=again)
        sent = model_server.requests[-1].json["messages"]
    assert [m["role"] for m in sent][:4] == ["system", "user", "assistant", "user"]


async def test_responses_fetched_and_streamed_and_continued() -> None:
    async with served() as (url, model_server):
        async with _client(url) as client:
            first = await client.responses.create(model="calc", input="add 2 and 40")
            assert first.output_text == "42.0"
            assert first.status == "completed"
            async with client.responses.stream(
                model="calc", input="now add 1 and 1", previous_response_id=first.id
            ) as stream:
                deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
                final = await stream.get_final_response()
        # the second run saw the first exchange (the conversation is stored on the server)
        sent = model_server.requests[-2].json["messages"]
    assert "".join(deltas) == final.output_text == "2.0"
    assert final.previous_response_id == first.id and final.id != first.id
    assert [m["role"] for m in sent][:5] == ["system", "user", "assistant", "tool", "assistant"]


async def test_an_earlier_response_continued_forks_the_conversation() -> None:
    async with served() as (url, model_server):
        async with _client(url) as client:
            first = await client.responses.create(model="calc", input="add 2 and 40")
            await client.responses.create(
                model="calc", input="add 1 and 1", previous_response_id=first.id
            )
            await client.responses.create(
                model="calc", input="add 3 and 3", previous_response_id=first.id
            )
        sent = model_server.requests[-2].json["messages"]
    users = [m["content"] for m in sent if m["role"] == "user"]
    assert users == ["add 2 and 40", "add 3 and 3"]  # not the branch that said 1 and 1


async def test_errors_are_the_apis() -> None:
    tokens = [Token("sk-good", name="a"), Token("sk-narrow", agents=["other"], name="b")]
    async with served(tokens=tokens) as (url, _):
        async with _client(url, "sk-wrong") as client:
            with pytest.raises(openai.AuthenticationError) as caught:
                await client.chat.completions.create(
                    model="calc", messages=[{"role": "user", "content": "hi"}]
                )
            assert "sk-wrong" not in str(caught.value)
        async with _client(url, "sk-good") as client:
            with pytest.raises(openai.NotFoundError, match="no agent named 'nope' is served here"):
                await client.responses.create(model="nope", input="hi")
            with pytest.raises(openai.BadRequestError, match="messages: must be a non-empty list"):
                await client.chat.completions.create(model="calc", messages=[])
            listed = await client.models.list()
            assert [m.id for m in listed.data] == ["calc"]
        async with _client(url, "sk-narrow") as client:
            with pytest.raises(openai.PermissionDeniedError, match="may not use agent 'calc'"):
                await client.chat.completions.create(
                    model="calc", messages=[{"role": "user", "content": "hi"}]
                )


async def test_too_many_runs_is_a_429_with_retry_after() -> None:
    entered = anyio.Event()
    release = anyio.Event()

    @tool
    async def wait(x: float) -> float:
        """Wait for the test."""
        entered.set()
        await release.wait()
        return x

    async with served() as (_url, model_server):
        agents = {"slow": lambda: Agent(model_server.model(), "", [wait])}
        async with served(agents=agents, limits=Limits(runs_per_token=1)) as (url2, _):
            async with _client(url2) as client:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(
                        lambda: client.chat.completions.create(
                            model="slow", messages=[{"role": "user", "content": "wait 1"}]
                        )
                    )
                    await entered.wait()
                    with pytest.raises(openai.RateLimitError) as caught:
                        await client.responses.create(model="slow", input="wait 2")
                    assert caught.value.response.headers["retry-after"] == "1"
                    release.set()
                # the slot came back when the first run ended
                reply = await client.chat.completions.create(
                    model="slow", messages=[{"role": "user", "content": "wait 3"}]
                )
    assert reply.choices[0].message.content == "3.0"
