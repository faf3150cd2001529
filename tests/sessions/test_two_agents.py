"""Two agents on one session id (issue 21, item 4): while one runs, the other is refused
before it sends or stores anything — its load would otherwise answer the running call
as aborted, and the store would hold two results for one call. Once the run ends (or
its process dies), the other goes on from the whole transcript. Each store, on trio
and asyncio, and across processes for SQLite."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from tinyagent import (
    Agent,
    InMemorySession,
    JSONLSession,
    PostgresSession,
    SQLiteSession,
    ToolResultMessage,
    tool,
)
from tinyagent.sessions import SessionInUseError
from tinyagent.testing import LocalServer, RecordedRequest, Reply, text_reply, tool_call_reply

pytestmark = pytest.mark.anyio


def stores(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Any, Any]:
    """Two handles on one stored session, as two agents would open it."""
    if kind == "postgres":
        url = request.getfixturevalue("postgres_url")
        sid = f"s-{uuid.uuid4().hex}"
        return PostgresSession(url, sid), PostgresSession(url, sid)
    if kind == "memory":
        shared = InMemorySession()
        return shared, shared
    if kind == "jsonl":
        return JSONLSession(tmp_path / "chat.jsonl"), JSONLSession(tmp_path / "chat.jsonl")
    return SQLiteSession(tmp_path / "c.db", "s1"), SQLiteSession(tmp_path / "c.db", "s1")


@pytest.mark.parametrize("kind", ["memory", "jsonl", "sqlite", "postgres"])
async def test_a_second_live_agent_is_refused_and_no_call_gets_two_results(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    started, release = anyio.Event(), anyio.Event()

    @tool
    async def slow() -> str:
        """Take a while."""
        started.set()
        await release.wait()
        return "slept"

    def script(request: RecordedRequest) -> Reply:
        last = request.json["messages"][-1]
        if last["role"] == "user" and last["content"] == "go":
            return tool_call_reply([("slow", {})])
        return text_reply("done")

    first_store, second_store = stores(kind, tmp_path, request)
    async with LocalServer(handler=script) as server:
        a = Agent(server.model(), tools=[slow], session=first_store)
        b = Agent(server.model(), tools=[slow], session=second_store)
        async with anyio.create_task_group() as tg:
            tg.start_soon(a.prompt, "go")
            await started.wait()
            sent = len(server.requests)
            with pytest.raises(
                SessionInUseError, match=r"is in use by another running agent \(this process\)"
            ):
                await b.prompt("hello")
            with pytest.raises(SessionInUseError):
                await b.sync_session()
            assert len(server.requests) == sent  # nothing sent for b
            release.set()
        await b.prompt("and now?")  # a's run is over: b loads it whole and goes on
    stored = await second_store.load()
    for store in {id(first_store): first_store, id(second_store): second_store}.values():
        if isinstance(store, SQLiteSession | PostgresSession):
            store.close()
    results = [m for m in stored if isinstance(m, ToolResultMessage)]
    assert [r.text for r in results] == ["slept"]  # one result for the call, the real one
    assert [m.role for m in stored] == [
        "user",
        "assistant",
        "toolResult",
        "assistant",
        "user",
        "assistant",
    ]


HOLDER = textwrap.dedent(
    """
    import sys, time, anyio
    from tinyagent import SQLiteSession
    from tinyagent.sessions import new_owner

    async def main():
        session = SQLiteSession(sys.argv[1], "s1")
        await session.acquire(new_owner())
        print("held", flush=True)
        time.sleep(60)

    anyio.run(main)
    """
)


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_a_lease_held_by_another_process_is_honoured_until_it_dies(
    tmp_path: Path, backend: str
) -> None:
    db = tmp_path / "c.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)], stdout=subprocess.PIPE, text=True
    )

    async def main() -> None:
        async with LocalServer(handler=lambda r: text_reply("hi")) as server:
            store = SQLiteSession(db, "s1")
            agent = Agent(server.model(), session=store)
            with pytest.raises(SessionInUseError, match=f"pid {holder.pid} on "):
                await agent.prompt("hello")
            holder.kill()
            await anyio.to_thread.run_sync(holder.wait)
            # Its process is gone, so its lease is: the next run goes on.
            assert (await agent.prompt("hello"))[-1].text == "hi"
            assert len(server.requests) == 1
            store.close()

    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        anyio.run(main, backend=backend)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()  # type: ignore[union-attr]


async def test_release_lease_breaks_a_lease_whose_holder_cannot_be_checked(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "c.db"
    session = SQLiteSession(db, "s1")
    await session.count()  # make the file and its tables
    with sqlite3.connect(db) as conn:  # a holder on another machine, gone for good
        conn.execute("INSERT INTO tinyagent_leases VALUES ('s1', 'elsewhere:42:abc', 0)")
    conn.close()
    async with LocalServer(handler=lambda r: text_reply("hi")) as server:
        agent = Agent(server.model(), session=session)
        with pytest.raises(SessionInUseError, match="pid 42 on elsewhere"):
            await agent.prompt("hello")
        await session.release_lease()
        assert (await agent.prompt("hello"))[-1].text == "hi"
    session.close()
