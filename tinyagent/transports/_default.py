"""The session that ``stream()`` and ``complete()`` use when given none.

Building an httpx client per call costs about 0.6 ms of CPU and a new connection, so
calls made without ``session=`` or ``client=`` share one session per event loop. It
belongs to the loop, not to any call: a task that lives as long as the loop (a trio
system task, an asyncio task) closes its connections when the loop ends — trio cancels
its system tasks at the end of a run, and ``asyncio.run`` (and anyio's runner) cancel
and await every task left. Only idle keep-alive connections wait in it: a response that
is cancelled or cut short closes its own connection, as before.
"""

from __future__ import annotations

import anyio

from ._connections import Connections
from ._per_loop import PerLoop

__all__ = ["KEEPER_NAME", "default_session"]

KEEPER_NAME = "tinyagent: default session"


async def _keep(session: Connections) -> None:
    try:
        await anyio.sleep_forever()
    finally:
        await session.aclose()  # shielded


_sessions = PerLoop(Connections, _keep, KEEPER_NAME)


def default_session() -> Connections:
    """This event loop's shared session (made, with its keeper, on first use)."""
    return _sessions.get()
