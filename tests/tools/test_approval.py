"""Human in the loop: a tool that requires approval asks the agent's ``approve``
callback, which may allow, deny with a reason the model sees, or edit the arguments;
while it waits, the run can still be aborted or the call cancelled."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from tinyagent import Agent, Approval, ToolCall, ToolResultMessage, tool
from tinyagent.testing import LocalServer, ToolCallSpec, text_reply, tool_call_reply

pytestmark = pytest.mark.anyio
RAN: list[dict[str, Any]] = []


@tool(requires_approval=True)
def delete(path: str, force: bool = False) -> str:
    """Delete a file."""
    RAN.append({"path": path, "force": force})
    return f"deleted {path}"


def replies() -> list[Any]:
    return [
        tool_call_reply([ToolCallSpec("delete", {"path": "/tmp/a"}, id="d1")]),
        text_reply("ok"),
    ]


async def run(transport: str, **options: Any) -> list[Any]:
    RAN.clear()
    async with LocalServer(replies()) as server:
        agent = Agent(
            server.model(), tools=[delete], stream_options={"transport": transport}, **options
        )
        return await agent.prompt("clean up")


def result_of(messages: list[Any]) -> ToolResultMessage:
    (r,) = [m for m in messages if isinstance(m, ToolResultMessage)]
    return r


@pytest.mark.parametrize("answer", [True, Approval.allow()])
async def test_allowed_calls_run(answer: Any, transport: str) -> None:
    asked: list[ToolCall] = []

    async def approve(call: ToolCall) -> Any:
        asked.append(call)
        return answer

    r = result_of(await run(transport, approve=approve))
    assert [c.arguments for c in asked] == [{"path": "/tmp/a"}]
    assert RAN == [{"path": "/tmp/a", "force": False}] and r.text == "deleted /tmp/a"


@pytest.mark.parametrize("answer", [False, Approval.deny("not that folder")])
async def test_denied_calls_do_not_run_and_the_model_is_told(answer: Any, transport: str) -> None:
    r = result_of(await run(transport, approve=lambda call: answer))
    assert RAN == [] and r.is_error and "was not approved" in r.text
    if isinstance(answer, Approval):
        assert "not that folder" in r.text


async def test_edited_arguments_are_checked_and_used(transport: str) -> None:
    r = result_of(await run(transport, approve=lambda call: {"path": "/tmp/b", "force": True}))
    assert RAN == [{"path": "/tmp/b", "force": True}] and r.text == "deleted /tmp/b"
    bad = result_of(await run(transport, approve=lambda call: Approval.allow({"path": 3})))
    assert RAN == [] and bad.is_error and "path: 3 is not of type 'string'" in bad.text


async def test_without_an_approver_the_call_does_not_run(transport: str) -> None:
    r = result_of(await run(transport))
    assert RAN == [] and r.is_error and "has no approve callback" in r.text


async def run_while_waiting(transport: str, act: Any) -> Agent:
    """Run with an approver that never answers; ``act(agent)`` once it is asked."""
    waiting = anyio.Event()

    async def approve(call: ToolCall) -> bool:
        waiting.set()
        await anyio.sleep_forever()
        return True

    RAN.clear()
    async with LocalServer(replies()) as server:
        agent = Agent(
            server.model(), tools=[delete], approve=approve, stream_options={"transport": transport}
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(agent.prompt, "clean up")
            await waiting.wait()
            act(agent)
    return agent


async def test_abort_while_waiting_for_approval(transport: str) -> None:
    agent = await run_while_waiting(transport, lambda a: a.abort("changed my mind"))
    r = result_of(list(agent.messages))
    assert RAN == [] and r.is_error and "changed my mind" in r.text
    assert agent.messages[-1] is r


async def test_cancelling_the_call_while_waiting(transport: str) -> None:
    cancelled: list[bool] = []
    agent = await run_while_waiting(transport, lambda a: cancelled.append(a.cancel_tool_call("d1")))
    assert cancelled == [True]
    r = result_of(list(agent.messages))
    assert RAN == [] and r.is_error and "cancelled" in r.text
    assert agent.messages[-1].text == "ok", "the run went on"
