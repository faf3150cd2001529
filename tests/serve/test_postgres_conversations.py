"""Conversations in PostgreSQL: two servers (two machines behind a load balancer) on one
database; a conversation started on one continues on the other."""

from __future__ import annotations

import openai
import pytest

from tinyagent import Agent, PostgresSession
from tinyagent.serve import app, serving
from tinyagent.testing import LocalServer, scripted_reply

from ._served import add

pytestmark = pytest.mark.anyio


async def test_a_conversation_started_on_one_server_continues_on_another(postgres_url: str) -> None:
    opened: list[PostgresSession] = []

    def sessions(conversation: str) -> PostgresSession:
        s = PostgresSession(postgres_url, conversation)
        opened.append(s)
        return s

    async with LocalServer(handler=scripted_reply) as model_server:
        model = model_server.model()

        def make() -> Agent:
            return Agent(model, "You add.", [add])

        first = app({"calc": make}, sessions=sessions)
        second = app({"calc": make}, sessions=sessions)
        async with serving(first) as url1, serving(second) as url2:
            async with openai.AsyncOpenAI(base_url=url1 + "/v1", api_key="x") as c1:
                r1 = await c1.responses.create(model="calc", input="add 2 and 40")
            async with openai.AsyncOpenAI(base_url=url2 + "/v1", api_key="x") as c2:
                r2 = await c2.responses.create(
                    model="calc", input="and 1 and 1", previous_response_id=r1.id
                )
        sent = model_server.requests[-2].json["messages"]
    assert r1.output_text == "42.0" and r2.output_text == "2.0"
    assert [m["content"] for m in sent if m["role"] == "user"] == ["add 2 and 40", "and 1 and 1"]
    # every session the servers opened was closed when its request ended
    assert all(s._conn is None for s in opened)
