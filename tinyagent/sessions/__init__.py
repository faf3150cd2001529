"""Sessions: an agent's transcript kept where it outlives the process.

``Agent(session=SQLiteSession("chats.db", "user-42"))`` loads the conversation before
the first run and stores each message the moment the run adds it. A session is anything
with async ``load``, ``append`` and ``clear`` (:class:`Session`); three ship here:
SQLite (shared, multi-process, crash-safe), PostgreSQL (shared by several machines, the
``postgres`` extra), a JSON Lines file (one writer) and memory.
A store with ``acquire``/``release`` holds a lease per id while an agent runs on it, so
a second live agent on the id is refused and a load never answers a running call.

It imports ``serde``, ``messages`` and ``_util`` — no agent machinery: the agent ties
itself to a store (``agent/_session_link.py``).
"""

from ._jsonl import JSONLSession
from ._lease import SessionInUseError, new_owner
from ._memory import InMemorySession
from ._postgres import PostgresSession
from ._protocol import Session, unanswered_results
from ._sqlite import SQLiteSession

__all__ = [
    "InMemorySession",
    "JSONLSession",
    "PostgresSession",
    "SQLiteSession",
    "Session",
    "SessionInUseError",
    "new_owner",
    "unanswered_results",
]
