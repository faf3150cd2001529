"""The agent: the facade users hold (:class:`Agent`), the run it starts
(:class:`AgentRun`, :func:`agent_loop`), the turns, the loop's options, the event
outbox, the tool runner, the reply being streamed, an agent as a tool, snapshots and
the tie to a session store.

Everything a run uses comes from below: ``call`` for model calls, ``tools``,
``output``, ``context``, ``tracing`` and ``sessions`` for what it runs and records,
``catalogue``, ``wire`` and ``messages``. Nothing below imports it.
"""

from __future__ import annotations

from ._agent import Agent, run_sync
from ._config import LoopConfig, TurnSettings, loop_config
from ._run import AgentRun, RunSpec, agent_loop, make_run, open_run, run_spec
from ._state import AgentState, ThinkingLevel

__all__ = [
    "Agent",
    "AgentRun",
    "AgentState",
    "LoopConfig",
    "RunSpec",
    "ThinkingLevel",
    "TurnSettings",
    "agent_loop",
    "loop_config",
    "make_run",
    "open_run",
    "run_spec",
    "run_sync",
]
