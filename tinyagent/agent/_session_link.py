"""An agent's tie to its session: load once, store edits, never two syncs at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from ..messages import AgentBusyError, Message, TinyAgentError
from ..sessions import Session, new_owner, unanswered_results

__all__ = ["SessionLink"]


class SessionLink:
    """What an :class:`Agent` with a session knows of it: whether the stored transcript
    was loaded, and whether a sync method edited the agent's since (then the whole
    transcript is stored again, in one ``replace`` where the store has one)."""

    __slots__ = ("_held", "_loaded", "_owner", "_rewrite", "_syncing", "session")

    def __init__(self, session: Session) -> None:
        if not isinstance(session, Session):
            raise TypeError(
                f"session must have async load(), append() and clear() (a "
                f"tinyagent.sessions.Session), got {type(session).__name__}"
            )
        self.session = session
        self._loaded = False
        self._rewrite = False
        self._syncing = False
        self._owner = new_owner()
        self._held = 0  # nesting: a run holds the lease, and its sync inside it

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Hold the session's lease (a store that has one) for the block: a run, or a
        load. Another live agent's lease makes this raise ``SessionInUseError``."""
        acquire = getattr(self.session, "acquire", None)
        release = getattr(self.session, "release", None)
        if acquire is None or release is None or self._held:
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1
            return
        await acquire(self._owner)
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            with anyio.CancelScope(shield=True):
                await release(self._owner)

    def edited(self) -> None:
        self._rewrite = True

    async def sync(self, messages: list[Message]) -> None:
        """Load into ``messages`` (the agent's list, changed in place) the first time,
        answering calls a crash left open; store ``messages`` after an edit."""
        if self._syncing:
            raise AgentBusyError("the agent's session is being loaded or stored; await that first")
        self._syncing = True
        try:
            async with self.held():  # repairs only under the lease: never a live call
                await self._sync(messages)
        finally:
            self._syncing = False

    async def _sync(self, messages: list[Message]) -> None:
        session = self.session
        if self._rewrite:
            replace = getattr(session, "replace", None)
            if replace is not None:
                await replace(list(messages))
            else:
                await session.clear()
                await session.append(list(messages))
            self._loaded, self._rewrite = True, False
            return
        if self._loaded:
            return
        stored = await session.load()
        if stored and messages:
            raise TinyAgentError(
                f"the agent was given messages and a session that already holds "
                f"{len(stored)}: pass one or the other (or replace_messages() to overwrite)"
            )
        if not stored and messages:
            await session.append(list(messages))
        else:
            repairs = unanswered_results(stored)
            if repairs:
                await session.append(repairs)
            messages[:] = [*stored, *repairs]
        self._loaded = True
