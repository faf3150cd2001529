"""What a tool may know of its run: the transcript and usage so far. A function tool
asks for it with a parameter annotated ``RunContext`` (never shown to the model); the
tool runner makes it available to each call's task through a context variable."""

from __future__ import annotations

import contextvars
from collections.abc import Callable

import attrs

from ..messages import Message, Usage

__all__ = ["RunContext", "current_run_context", "run_context_var"]


@attrs.frozen
class RunContext:
    """The run as a tool call sees it when it starts."""

    messages: tuple[Message, ...] = ()
    usage: Usage = attrs.field(factory=Usage)


run_context_var: contextvars.ContextVar[Callable[[], RunContext] | None] = contextvars.ContextVar(
    "tinyagent_run_context", default=None
)


def current_run_context() -> RunContext:
    """The calling tool's run (an empty context outside of a run)."""
    make = run_context_var.get()
    return make() if make is not None else RunContext()
