"""A served app for the tests: agents over a local scripted model, on the backend's own
server (hypercorn under trio, uvicorn under asyncio)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from tinyagent import Agent, tool
from tinyagent.serve import app, serving
from tinyagent.testing import LocalServer, Reply, scripted_reply


@tool
def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


@asynccontextmanager
async def served(
    replies: Sequence[Reply] | None = None, *, agents: Any = None, **app_options: Any
) -> AsyncIterator[tuple[str, LocalServer]]:
    """``(base URL, the model's server)``: agent ``calc`` (the scripted model, or the
    ``replies`` given, with an ``add`` tool) and the model relayed as ``local:mock-model``."""
    handler = None if replies is not None else scripted_reply
    async with LocalServer(replies or (), handler=handler) as model_server:
        model = model_server.model()
        served_agents = (
            agents if agents is not None else {"calc": lambda: Agent(model, "You add.", [add])}
        )
        application = app(served_agents, models=[model], **app_options)
        async with serving(application) as url:
            yield url, model_server
