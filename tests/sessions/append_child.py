"""``python append_child.py DB SESSION_ID N``: append N messages, one transaction each."""

from __future__ import annotations

import sys

import anyio

from tinyagent import SQLiteSession, UserMessage


async def main(db: str, session_id: str, n: int) -> None:
    with SQLiteSession(db, session_id) as session:
        for i in range(n):
            await session.append([UserMessage(f"{session_id} {i}")])


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]))
