"""A process that talks with an agent on a SQLite session until it is killed.

``python crash_child.py DB SESSION_ID`` serves scripted replies itself (a tool call
with two parallel calls, then text, over and over) and prints, for each message the
moment its ``message_end`` is heard (so after the session acknowledged it), one line:
the message as JSON.
"""

from __future__ import annotations

import sys

import anyio

from tinyagent import Agent, MessageEndEvent, PostgresSession, SQLiteSession, serde, tool
from tinyagent.testing import LocalServer, RecordedRequest, Reply, text_reply, tool_call_reply


@tool
async def work(n: int) -> str:
    """Do some work."""
    await anyio.sleep(0.01 * (n % 3))
    return f"worked {n}"


def reply(request: RecordedRequest) -> Reply:
    last = request.json["messages"][-1]
    if last["role"] == "user":
        n = len(request.json["messages"])
        calls = [("work", {"n": n}), ("work", {"n": n + 1})]
        return tool_call_reply(calls, chunk_size=4).but(chunk_delay=0.002)
    return text_reply("done " * 20, chunk_size=3).but(chunk_delay=0.002)


def store(db: str, session_id: str) -> SQLiteSession | PostgresSession:
    """The session at ``db``: a SQLite file, or a PostgreSQL server by URL."""
    if db.startswith("postgresql://"):
        return PostgresSession(db, session_id)
    return SQLiteSession(db, session_id)


async def main(db: str, session_id: str) -> None:
    async with LocalServer(handler=reply) as server:
        agent = Agent(server.model(), tools=[work], session=store(db, session_id))

        def heard(event: object) -> None:
            if isinstance(event, MessageEndEvent):
                print(serde.dumps(event.message), flush=True)

        agent.subscribe(heard)
        i = 0
        while True:
            i += 1
            await agent.prompt(f"task {i}")


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], backend=sys.argv[3] if len(sys.argv) > 3 else "trio")
