"""Conversations that outlive a request: each a session, by id.

The store is a function ``session_id -> Session`` (``SQLiteSession`` over one file for
one machine, ``PostgresSession`` for several). Without one, conversations live in this
process's memory, the most recent ``MEMORY_CONVERSATIONS`` kept.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable

from ..sessions import InMemorySession, Session

__all__ = ["MEMORY_CONVERSATIONS", "Conversations"]

MEMORY_CONVERSATIONS = 10_000


class Conversations:
    __slots__ = ("_make", "_memory")

    def __init__(self, sessions: Callable[[str], Session] | None) -> None:
        self._make = sessions
        self._memory: OrderedDict[str, InMemorySession] = OrderedDict()

    @staticmethod
    def new_id() -> str:
        """An id nobody can guess (128 random bits): knowing it is what gives access."""
        return secrets.token_hex(16)

    @staticmethod
    def close(session: Session) -> None:
        """Let go of a session's resources (a database connection) once a request is
        done with it; a store without any has nothing to close."""
        close = getattr(session, "close", None)
        if callable(close):
            close()

    def session(self, conversation_id: str) -> Session:
        if self._make is not None:
            return self._make(conversation_id)
        memory = self._memory
        found = memory.get(conversation_id)
        if found is None:
            found = memory[conversation_id] = InMemorySession()
            while len(memory) > MEMORY_CONVERSATIONS:
                memory.popitem(last=False)
        else:
            memory.move_to_end(conversation_id)
        return found
