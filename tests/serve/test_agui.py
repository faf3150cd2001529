"""AG-UI: a run with a server-side tool call streams events that decode with
``ag-ui-protocol``'s own models, in a valid order; a frontend tool stops the run with
its call for the UI, and the run resumes from the UI's result."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from ag_ui import core as ui
from pydantic import TypeAdapter

from ._served import served

pytestmark = pytest.mark.anyio

EVENTS: TypeAdapter[Any] = TypeAdapter(ui.Event)


def _decode(body: str) -> list[Any]:
    out = []
    for block in body.split("\n\n"):
        if block.startswith("data: "):
            out.append(EVENTS.validate_python(json.loads(block[6:])))
    return out


def _input(messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"threadId": "t1", "runId": "r1", "state": {"n": 1}, "messages": messages,
            "tools": [], "context": [], "forwardedProps": {}, **extra}  # fmt: skip


def _check_order(events: list[Any]) -> None:
    """Starts before contents before ends; every call ends before its result; the run
    begins first and finishes last."""
    assert isinstance(events[0], ui.RunStartedEvent)
    assert isinstance(events[-1], ui.RunFinishedEvent | ui.RunErrorEvent)
    open_text: set[str] = set()
    open_calls: set[str] = set()
    ended_calls: set[str] = set()
    for e in events[1:-1]:
        if isinstance(e, ui.TextMessageStartEvent):
            open_text.add(e.message_id)
        elif isinstance(e, ui.TextMessageContentEvent):
            assert e.message_id in open_text
        elif isinstance(e, ui.TextMessageEndEvent):
            open_text.remove(e.message_id)
        elif isinstance(e, ui.ToolCallStartEvent):
            open_calls.add(e.tool_call_id)
        elif isinstance(e, ui.ToolCallArgsEvent):
            assert e.tool_call_id in open_calls
        elif isinstance(e, ui.ToolCallEndEvent):
            open_calls.remove(e.tool_call_id)
            ended_calls.add(e.tool_call_id)
        elif isinstance(e, ui.ToolCallResultEvent):
            assert e.tool_call_id in ended_calls
    assert not open_text and not open_calls


async def test_a_run_with_a_tool_call_decodes_in_a_valid_order() -> None:
    async with served() as (url, _):
        async with httpx.AsyncClient(timeout=30) as client:
            r = await client.post(
                url + "/agui/calc",
                json=_input([{"id": "u1", "role": "user", "content": "add 2 and 40"}]),
            )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = _decode(r.text)
    _check_order(events)
    kinds = [e.type for e in events]
    assert kinds[:3] == ["RUN_STARTED", "STATE_SNAPSHOT", "STEP_STARTED"]
    assert events[1].snapshot == {"n": 1}
    (start,) = [e for e in events if isinstance(e, ui.ToolCallStartEvent)]
    assert start.tool_call_name == "add"
    args = "".join(e.delta for e in events if isinstance(e, ui.ToolCallArgsEvent))
    assert json.loads(args) == {"a": 2.0, "b": 40.0}
    (result,) = [e for e in events if isinstance(e, ui.ToolCallResultEvent)]
    assert result.content == "42.0" and result.tool_call_id == start.tool_call_id
    text = "".join(e.delta for e in events if isinstance(e, ui.TextMessageContentEvent))
    assert text == "42.0"
    finished = events[-1]
    assert finished.thread_id == "t1" and finished.run_id == "r1"
    assert finished.usage and finished.usage[0].total_tokens > 0


async def test_a_frontend_tool_hands_the_run_to_the_ui_and_the_run_resumes() -> None:
    pick = {"name": "pick_colour", "description": "Ask the user for a colour.",
            "parameters": {"type": "object", "properties": {"n": {"type": "number"}}}}  # fmt: skip
    async with served(agents=None) as (url, model_server):
        async with httpx.AsyncClient(timeout=30) as client:
            user = {"id": "u1", "role": "user", "content": "pick 3"}
            r = await client.post(url + "/agui/calc", json=_input([user], tools=[pick]))
            events = _decode(r.text)
            _check_order(events)
            starts = {
                e.tool_call_name: e.tool_call_id
                for e in events
                if isinstance(e, ui.ToolCallStartEvent)
            }
            results = {e.tool_call_id for e in events if isinstance(e, ui.ToolCallResultEvent)}
            # the agent's own tool ran here; the frontend tool's call waits for the UI
            assert starts["add"] in results and starts["pick_colour"] not in results
            assert events[-1].outcome.pending_tool_call_ids == [starts["pick_colour"]]
            calls = [{"id": i, "type": "function", "function": {"name": n, "arguments": "{}"}}
                     for n, i in starts.items()]  # fmt: skip
            resumed = [
                user,
                {"id": "a1", "role": "assistant", "toolCalls": calls},
                {"id": "t1", "role": "tool", "toolCallId": starts["add"], "content": "6.0"},
                {
                    "id": "t2",
                    "role": "tool",
                    "toolCallId": starts["pick_colour"],
                    "content": "teal",
                },
            ]
            r = await client.post(url + "/agui/calc", json=_input(resumed, tools=[pick]))
        events = _decode(r.text)
        sent = model_server.requests[-1].json["messages"]
    _check_order(events)
    text = "".join(e.delta for e in events if isinstance(e, ui.TextMessageContentEvent))
    assert "teal" in text  # the model answered with the UI's result
    assert [m["role"] for m in sent][-3:] == ["assistant", "tool", "tool"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"threadId": "t"}, 400, "runId: Field required"),
        (
            _input([{"id": "a", "role": "tool", "toolCallId": "zz", "content": "x"}]),
            400,
            "answers no earlier call",
        ),
        (
            _input([{"id": "a", "role": "assistant", "content": "hi"}]),
            400,
            "the last message must be the user's",
        ),
    ],
)
async def test_bad_input_is_a_400_naming_it(body: dict[str, Any], status: int, words: str) -> None:
    async with served() as (url, _):
        async with httpx.AsyncClient() as client:
            r = await client.post(url + "/agui/calc", json=body)
            assert r.status_code == status and words in r.json()["error"]["message"]
            r = await client.post(
                url + "/agui/nope", json=_input([{"id": "u", "role": "user", "content": "x"}])
            )
            assert r.status_code == 404
