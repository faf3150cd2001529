"""An agent's tie to its session: load once, store edits, never two syncs at once."""

from __future__ import annotations

from ..messages import AgentBusyError, Message, TinyAgentError
from ..sessions import Session, unanswered_results

__all__ = ["SessionLink"]


class SessionLink:
    """What an :class:`Agent` with a session knows of it: whether the stored transcript
    was loaded, and whether a sync method edited the agent's since (then the whole
    transcript is stored again, in one ``replace`` where the store has one)."""

    __slots__ = ("_loaded", "_rewrite", "_syncing", "session")

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

    def edited(self) -> None:
        self._rewrite = True

    async def sync(self, messages: list[Message]) -> None:
        """Load into ``messages`` (the agent's list, changed in place) the first time,
        answering calls a crash left open; store ``messages`` after an edit."""
        if self._syncing:
            raise AgentBusyError("the agent's session is being loaded or stored; await that first")
        self._syncing = True
        try:
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
