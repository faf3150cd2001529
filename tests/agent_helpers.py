"""Shared helpers for the agent tests: small tools and task accounting."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import sniffio

from tinyagent import Tool, ToolError, ToolResult, ToolUpdate
from tinyagent.transports._default import KEEPER_NAME
from tinyagent.transports._wakeups import DISPATCHER_NAME

NUMBER_ARGS = {
    "type": "object",
    "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
    "required": ["a", "b"],
    "additionalProperties": False,
}


async def _add(call_id: str, args: dict[str, Any], update: ToolUpdate) -> ToolResult:
    await update({"step": "adding"})
    return ToolResult(str(args["a"] + args["b"]), details={"sum": args["a"] + args["b"]})


add_tool = Tool("add", "Add two numbers.", NUMBER_ARGS, _add)


def sleeper(name: str, seconds: float, *, text: str | None = None, **kw: Any) -> Tool:
    async def run(call_id: str, args: dict[str, Any], update: ToolUpdate) -> str:
        await anyio.sleep(seconds)
        return text if text is not None else f"{name} done"

    return Tool(name, f"Sleeps {seconds} s.", {"type": "object"}, run, **kw)


def failing(name: str, exc: Exception) -> Tool:
    async def run(call_id: str, args: dict[str, Any], update: ToolUpdate) -> str:
        raise exc

    return Tool(name, "Always fails.", {"type": "object"}, run)


def blocker(name: str, started: anyio.Event | None = None) -> Tool:
    """A tool that waits forever (until cancelled)."""

    async def run(call_id: str, args: dict[str, Any], update: ToolUpdate) -> str:
        if started is not None:
            started.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    return Tool(name, "Never finishes.", {"type": "object"}, run)


__all__ = [
    "ToolError",
    "add_tool",
    "blocker",
    "count_tasks",
    "failing",
    "settled_task_count",
    "sleeper",
]


async def settled_task_count() -> int:
    """The task count once everything that can run has run (servers listening, etc.)."""
    await anyio.wait_all_tasks_blocked()
    return count_tasks()


def _is_server_task(name: str) -> bool:
    # The LocalServer's own tasks (listener, one per connection): an idle keep-alive
    # connection in the client's pool legitimately keeps one alive on the server side.
    # And the event loop's default-session keeper and native wake-up dispatcher, which
    # live as long as the loop.
    return "serve" in name or name in (KEEPER_NAME, DISPATCHER_NAME)


def count_tasks() -> int:
    """How many client-side tasks exist now (asyncio.all_tasks(), or trio's task tree),
    not counting the test server's own tasks."""
    if sniffio.current_async_library() == "asyncio":
        return sum(1 for t in asyncio.all_tasks() if not _is_server_task(t.get_name()))
    import trio

    def walk(task: trio.lowlevel.Task) -> list[str]:
        if _is_server_task(task.name):
            return []
        return [task.name] + [
            x for n in task.child_nurseries for t in n.child_tasks for x in walk(t)
        ]

    # trio's own system tasks that finalise httpx's abandoned async generators
    # (encode/httpx#3686) are trio's, not ours, and end on their own.
    names = [
        n for n in walk(trio.lowlevel.current_root_task()) if not n.startswith("close asyncgen")
    ]
    return len(names)
