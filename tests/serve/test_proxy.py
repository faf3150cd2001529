"""``POST /api/stream``: our proxy provider against our server, on every transport and
both servers (hypercorn on trio, uvicorn on asyncio)."""

from __future__ import annotations

import httpx
import pytest

import tinyagent
from tinyagent import Context, Model, StopReason, UserMessage
from tinyagent.serve import Token
from tinyagent.testing import chunk, chunks_reply, error_reply, text_reply

from ._served import add, served

pytestmark = pytest.mark.anyio


def _proxy(url: str, token: str | None = None, model_id: str = "mock-model") -> Model:
    return Model(model_id, base_url=url, api="proxy", provider="local", api_key=token)


def _ctx(text: str = "add 2 and 40", tools: bool = True) -> Context:
    return Context("You add.", [UserMessage(text)], [add] if tools else [])


async def test_text_thinking_and_a_tool_call_relayed(transport: str) -> None:
    thinking = chunks_reply(
        [
            chunk({"role": "assistant", "reasoning_content": "sum"}),
            chunk({"reasoning_content": "ming"}),
            chunk({"content": "The answer"}),
            chunk({"content": " is 42."}),
            chunk(
                {},
                finish_reason="stop",
                usage={"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
            ),
        ]
    )
    async with served([thinking]) as (url, _):
        msg = await tinyagent.complete(_proxy(url), _ctx(tools=False), transport=transport)
    assert msg.stop_reason is StopReason.STOP
    assert msg.thinking == "summing" and msg.text == "The answer is 42."
    assert (msg.usage.input, msg.usage.output) == (9, 4)
    assert msg.api == "proxy" and msg.provider == "local"


async def test_a_tool_call_comes_through_with_its_arguments(transport: str) -> None:
    async with served() as (url, model_server):
        msg = await tinyagent.complete(_proxy(url), _ctx(), transport=transport)
        sent = model_server.requests[-1].json
    assert msg.stop_reason is StopReason.TOOL_USE
    assert [(c.name, c.arguments) for c in msg.tool_calls] == [("add", {"a": 2.0, "b": 40.0})]
    # the relay sent the provider's request with the client's tools and system prompt
    assert sent["tools"][0]["function"]["name"] == "add"
    assert sent["messages"][0] == {"role": "system", "content": "You add."}


async def test_an_agent_with_local_tools_runs_its_model_calls_through_the_relay(
    transport: str,
) -> None:
    async with served() as (url, model_server):
        agent = tinyagent.Agent(
            _proxy(url), "You add.", [add], stream_options={"transport": transport}
        )
        assert await agent.prompt_text("add 2 and 40") == "42.0"
        assert len(model_server.requests) == 2  # the tool ran here, between two relayed calls


async def test_a_provider_failure_is_an_error_event_with_its_kind(transport: str) -> None:
    overloaded = error_reply(529, "busy", error_type="overloaded_error")
    async with served([overloaded] * 3) as (url, _):
        msg = await tinyagent.complete(_proxy(url), _ctx(), transport=transport, max_retries=0)
    assert msg.stop_reason is StopReason.ERROR
    assert "busy" in (msg.error_message or "")
    assert msg.failure is not None and msg.failure.kind == "overloaded"


async def test_an_unknown_model_is_a_404_naming_the_relayed_ones(transport: str) -> None:
    async with served() as (url, _):
        msg = await tinyagent.complete(_proxy(url, model_id="gpt-9"), _ctx(), transport=transport)
    assert msg.stop_reason is StopReason.ERROR
    assert msg.failure is not None and msg.failure.kind == "not_found"
    assert "'local:gpt-9' is not relayed here (relayed: local:mock-model)" in (
        msg.error_message or ""
    )


async def test_tokens_are_checked_and_scoped(transport: str) -> None:
    tokens = [Token("good-secret", name="alice"), Token("other-secret", models=["x:y"], name="bob")]
    async with served(tokens=tokens) as (url, _):
        ok = await tinyagent.complete(_proxy(url, "good-secret"), _ctx(), transport=transport)
        bad = await tinyagent.complete(_proxy(url, "wrong"), _ctx(), transport=transport)
        none = await tinyagent.complete(_proxy(url), _ctx(), transport=transport)
        scoped = await tinyagent.complete(_proxy(url, "other-secret"), _ctx(), transport=transport)
    assert ok.stop_reason is StopReason.TOOL_USE
    for msg, status in ((bad, 401), (none, 401), (scoped, 403)):
        assert msg.failure is not None and msg.failure.status == status
        assert "secret" not in (msg.error_message or "")


async def test_the_servers_key_never_reaches_the_client() -> None:
    refused = error_reply(401, "Incorrect API key provided: sk-srv****cret")
    async with served([refused]) as (url, _model_server):
        async with httpx.AsyncClient() as client:
            body = {"model": {"provider": "local", "id": "mock-model"},
                    "context": {"system_prompt": "", "messages": []}}  # fmt: skip
            r = await client.post(url + "/api/stream", json=body)
    assert r.status_code == 200
    assert "sk-srv" not in r.text
    assert "the relay's credentials for local:mock-model were refused" in r.text


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "the body is not valid JSON"),
        (b"[1]", "the body must be a JSON object"),
        (b'{"model": {"id": 3}}', "model: must be an object with a non-empty string id"),
        (
            b'{"model": {"id": "m"}, "context": {"messages": [{"role": "robot"}]}}',
            "context.messages[0].role: unknown role 'robot'",
        ),
        (
            b'{"model": {"id": "m"}, "context": {"messages": [{"role": "user", "content": 5}]}}',
            "context.messages[0].content: must be a list of content blocks",
        ),
        (
            b'{"model": {"id": "m"}, "context": {}, "options": {"maxTokens": "many"}}',
            "options.maxTokens: must be a whole number >= 1",
        ),
        (
            b'{"model": {"id": "m"}, "context": {}, "options": {"reasoning": "max"}}',
            "options.reasoning: unknown level 'max'",
        ),
    ],
)
async def test_hostile_requests_get_a_400_naming_what_was_wrong(body: bytes, words: str) -> None:
    async with served() as (url, _):
        async with httpx.AsyncClient() as client:
            r = await client.post(url + "/api/stream", content=body)
            assert r.status_code == 400
            assert words in r.json()["error"]
            assert (await client.get(url + "/healthz")).json() == {"status": "ok"}


async def test_a_lone_surrogate_is_read_not_refused() -> None:
    body = (b'{"model": {"id": "mock-model"}, "context": {"messages": '
            b'[{"role": "user", "content": [{"type": "text", "text": "hi \\ud800"}]}]}}')  # fmt: skip
    async with served([text_reply("ok")]) as (url, model_server):
        async with httpx.AsyncClient() as client:
            r = await client.post(url + "/api/stream", content=body)
        assert '"type":"done"' in r.text
        assert model_server.requests[-1].json["messages"][-1]["content"][0]["text"] == "hi \ufffd"


async def test_pi_camel_case_requests_are_answered_in_camel_case() -> None:
    body = {
        "model": {"provider": "local", "id": "mock-model", "api": "openai-completions"},
        "context": {
            "systemPrompt": "You add.",
            "messages": [
                {"role": "user", "content": "add 1 and 2", "timestamp": 1733000000000},
            ],
            "tools": [{"name": "add", "description": "Add.", "parameters": dict(add.parameters)}],
        },
        "options": {"maxTokens": 100},
    }
    async with served() as (url, model_server):
        async with httpx.AsyncClient() as client:
            r = await client.post(url + "/api/stream", json=body)
        assert model_server.requests[-1].json["max_tokens"] == 100
    assert '"reason":"toolUse"' in r.text and '"cacheRead":0' in r.text
