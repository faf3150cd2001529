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

import weakref
from typing import Any

import anyio
import sniffio

from ._session import Session

__all__ = ["KEEPER_NAME", "default_session"]

KEEPER_NAME = "tinyagent: default session"

_asyncio_sessions: weakref.WeakKeyDictionary[Any, tuple[Session, Any]] = weakref.WeakKeyDictionary()
_trio_var: Any = None


async def _keep(session: Session) -> None:
    try:
        await anyio.sleep_forever()
    finally:
        await session.aclose()  # shielded


def default_session() -> Session:
    """This event loop's shared session (made, with its keeper, on first use)."""
    if sniffio.current_async_library() == "trio":
        return _trio_session()
    return _asyncio_session()


def _trio_session() -> Session:
    import trio

    global _trio_var
    if _trio_var is None:
        _trio_var = trio.lowlevel.RunVar("tinyagent_default_session")
    try:
        session: Session = _trio_var.get()
    except LookupError:
        session = Session()
        _trio_var.set(session)
        trio.lowlevel.spawn_system_task(_keep, session, name=KEEPER_NAME)
    return session


def _asyncio_session() -> Session:
    import asyncio

    loop = asyncio.get_running_loop()
    entry = _asyncio_sessions.get(loop)
    if entry is None:
        session = Session()
        # The task is kept here: asyncio holds only weak references to tasks.
        task = loop.create_task(_keep(session), name=KEEPER_NAME)
        entry = _asyncio_sessions[loop] = (session, task)
    return entry[0]
