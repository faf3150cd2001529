"""Functions as tools: schemas from type hints, sync and async, end to end."""

from __future__ import annotations

import threading
from typing import Any, Literal

import anyio
import attrs
import pytest

import tinyagent
from tinyagent import Agent, ToolResult, ToolResultMessage, ToolUpdate, tool
from tinyagent.testing import LocalServer, text_reply, tool_call_reply

pytestmark = pytest.mark.anyio


@tool
async def convert(
    amount: float, unit: Literal["km", "mi"], precision: int = 2, *, update: ToolUpdate
) -> str:
    """Convert a distance between kilometres and miles.

    More words that the model does not need."""
    await update({"converting": unit})
    value = amount * 0.621371 if unit == "km" else amount / 0.621371
    return f"{value:.{precision}f}"


@tool(name="lookup", timeout=5)
def find(keys: list[str], table: dict[str, int] | None = None) -> dict[str, Any]:
    """Look keys up."""
    table = table or {"a": 1}
    return {k: table.get(k) for k in keys}


def test_schema_comes_from_the_signature_and_docstring() -> None:
    assert convert.name == "convert"
    assert convert.description == "Convert a distance between kilometres and miles."
    assert convert.parameters == {
        "type": "object",
        "properties": {
            "amount": {"type": "number"},
            "unit": {"enum": ["km", "mi"]},
            "precision": {"type": "integer", "default": 2},
        },
        "required": ["amount", "unit"],
        "additionalProperties": False,
    }
    assert find.name == "lookup" and find.timeout == 5
    assert find.parameters["properties"]["keys"] == {"type": "array", "items": {"type": "string"}}
    assert find.parameters["properties"]["table"]["anyOf"][1] == {"type": "null"}


class Thing:
    pass


def test_unsupported_annotations_fail_at_definition() -> None:
    def bad(x: Thing) -> str:
        return ""

    with pytest.raises(TypeError, match=r"cannot describe .*Thing"):
        tool(bad)

    def unresolvable(x: NoSuchType) -> str:  # type: ignore[name-defined]  # noqa: F821
        return ""

    with pytest.raises(TypeError, match="cannot resolve its type hints"):
        tool(unresolvable)


async def test_function_tools_run_in_an_agent_sync_and_async() -> None:
    replies = [
        tool_call_reply(
            [
                ("convert", {"amount": 10, "unit": "km"}),
                ("lookup", {"keys": ["a", "b"]}),
                ("convert", {"amount": "x", "unit": "km"}),
            ]
        ),
        text_reply("done"),
    ]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=[convert, find])
        updates: list[Any] = []
        agent.subscribe(
            lambda e: updates.append(e.partial) if e.type == "tool_execution_update" else None
        )
        await agent.prompt("go")
    ok, looked_up, bad = [m for m in agent.state.messages if isinstance(m, ToolResultMessage)]
    assert ok.text == "6.21" and not ok.is_error
    assert looked_up.text == '{"a": 1, "b": null}' and looked_up.details == {"a": 1, "b": None}
    assert bad.is_error and "amount: 'x' is not of type 'number'" in bad.text
    assert updates == [{"converting": "km"}]


async def test_a_tool_result_passes_through() -> None:
    @tinyagent.tool
    def stop() -> ToolResult:
        """Stop here."""
        return ToolResult("bye", terminate=True)

    assert stop.parameters == {"type": "object", "properties": {}, "additionalProperties": False}
    result = await stop.execute("c", {}, _noop)
    assert isinstance(result, ToolResult) and result.terminate


async def _noop(partial: Any) -> None:
    return None


class Blocking:
    """A plain-function tool that blocks its worker thread until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

        @tinyagent.tool(name="block", timeout=0.2)
        def block() -> str:
            """Block."""
            self.started.set()
            self.release.wait(30)
            self.finished.set()
            return "too late"

        self.tool = block


@pytest.mark.parametrize("how", ["timeout", "abort", "deadline"])
async def test_a_blocking_sync_tool_is_abandoned_not_waited_for(how: str, transport: str) -> None:
    blocking = Blocking()
    tool_ = blocking.tool if how == "timeout" else attrs.evolve(blocking.tool, timeout=None)
    replies = [tool_call_reply([("block", {})]), text_reply("moved on")]
    options: dict[str, Any] = {"deadline": 0.5} if how == "deadline" else {}
    async with LocalServer(replies) as server:
        agent = Agent(
            server.model(), tools=[tool_], stream_options={"transport": transport}, **options
        )
        try:
            with anyio.fail_after(10):  # waiting for the thread would take 30 s
                async with anyio.create_task_group() as tg:
                    tg.start_soon(agent.prompt, "go")
                    if how == "abort":
                        await anyio.to_thread.run_sync(blocking.started.wait, 10)
                        agent.abort("user pressed stop")
            # Answered while the thread is still blocked: it was not waited for.
            assert blocking.started.is_set() and not blocking.finished.is_set()
        finally:
            blocking.release.set()
    (result,) = [m for m in agent.messages if isinstance(m, ToolResultMessage)]
    assert result.is_error and "too late" not in result.text
    expected = {
        "timeout": "timed out after 0.2 s",
        "abort": "user pressed stop",
        "deadline": "deadline of 0.5 s passed",
    }[how]
    assert expected in result.text
    if how == "timeout":  # the run goes on to the next turn
        assert agent.messages[-1].text == "moved on"
