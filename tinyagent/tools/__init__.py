"""Tools: what the model can call.

A :class:`Tool` is a name, a JSON Schema and an async ``execute``; :func:`tool` makes one
from a plain typed function (schema from the hints, descriptions from the docstring,
arguments structured by the project's converter). Injected parameters (``ToolCallId``,
``RunContext``, ``CancelToken``, ``update``) are recognised by annotation and never shown
to the model. ``Tool(requires_approval=True)`` asks the agent's ``approve`` callback first.

It imports ``serde``, ``messages`` and ``_util``; running a turn's calls is the agent's
job (``agent/_tool_runner.py``).
"""

from ._function import CancelToken, ToolCallId, ToolCancelled, tool
from ._run_context import RunContext

# For the rooms above, not the user's surface: they import a room only through its face.
from ._run_context import run_context_var as run_context_var
from ._schema import schema_of as schema_of
from ._tool import Approval, Tool, ToolResult, ToolUpdate
from ._tool import ToolExecute as ToolExecute
from ._tool import argument_problem as argument_problem

__all__ = [
    "Approval",
    "CancelToken",
    "RunContext",
    "Tool",
    "ToolCallId",
    "ToolCancelled",
    "ToolResult",
    "ToolUpdate",
    "tool",
]
