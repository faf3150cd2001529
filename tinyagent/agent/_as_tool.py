"""An agent as a tool of another agent (``Agent.as_tool``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .._util.json import dumps
from ..messages import (
    AgentEvent,
    AssistantMessage,
    OutputError,
    StopReason,
    ToolError,
    ToolExecutionStartEvent,
)
from ..serde import converter
from ..tools import Tool, ToolResult, ToolUpdate

__all__ = ["agent_tool"]


class _Worker(Protocol):
    """What a call needs of the agent it runs (``Agent`` is one)."""

    @property
    def output_type(self) -> Any: ...
    @property
    def usage(self) -> Any: ...
    def subscribe(self, callback: Callable[[AgentEvent], Any]) -> Callable[[], None]: ...
    async def prompt(self, message: str) -> list[Any]: ...
    async def prompt_output(self, message: str) -> Any: ...


class _Cloneable(Protocol):
    def clone(self) -> _Worker: ...


def agent_tool(agent: _Cloneable, name: str, description: str, timeout: float | None) -> Tool:
    """Each call runs a fresh clone of ``agent`` on the ``task`` argument, inside the
    calling tool's task (so cancelling the call aborts it), forwarding its tool
    executions as progress updates. A typed agent answers with its output: JSON for
    the calling model, the value itself in ``details``."""

    async def execute(call_id: str, args: dict[str, Any], update: ToolUpdate) -> ToolResult:
        worker = agent.clone()

        async def forward(event: AgentEvent) -> None:
            if isinstance(event, ToolExecutionStartEvent):
                await update(
                    {"agent": name, "tool": event.call.name, "arguments": event.call.arguments}
                )

        worker.subscribe(forward)
        if worker.output_type is not None:
            try:
                value = await worker.prompt_output(args["task"])
            except OutputError as exc:
                raise ToolError(f"The {name} agent gave no valid answer: {exc}") from None
            text = dumps(converter.unstructure(value)).decode()
            return ToolResult(text, details=value)
        new = await worker.prompt(args["task"])
        replies = [m for m in new if isinstance(m, AssistantMessage)]
        last = replies[-1] if replies else None
        if last is None or last.stop_reason in (StopReason.ERROR, StopReason.ABORTED):
            why = last.error_message if last is not None else "no reply"
            raise ToolError(f"The {name} agent failed: {why}")
        return ToolResult(last.text, details={"usage": worker.usage, "messages": len(new)})

    parameters = {
        "type": "object",
        "properties": {"task": {"type": "string", "description": f"What {name} should do."}},
        "required": ["task"],
    }
    return Tool(name, description, parameters, execute, timeout=timeout)
