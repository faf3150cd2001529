"""An agent factory for the Ray test, importable by Ray's worker processes."""

from __future__ import annotations

import os

from tinyagent import Agent, tool


@tool
def where() -> int:
    """The process this tool runs in."""
    return os.getpid()


def make_agent() -> Agent:
    return Agent(tools=[where])


@tool
def die() -> str:
    """End this process at once, as a crash or an OOM kill would."""
    os._exit(1)


def make_dying_agent() -> Agent:
    return Agent(tools=[die])
