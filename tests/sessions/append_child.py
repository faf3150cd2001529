"""``python append_child.py DB SESSION_ID N``: append N messages, one transaction each."""

from __future__ import annotations

import sys

import anyio

from tinyagent import PostgresSession, SQLiteSession, UserMessage


def store(db: str, session_id: str) -> SQLiteSession | PostgresSession:
    """The session at ``db``: a SQLite file, or a PostgreSQL server by URL."""
    if db.startswith("postgresql://"):
        return PostgresSession(db, session_id)
    return SQLiteSession(db, session_id)


async def main(db: str, session_id: str, n: int) -> None:
    with store(db, session_id) as session:
        for i in range(n):
            await session.append([UserMessage(f"{session_id} {i}")])


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]))
