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
