"""Sessions: the three stores, and an agent that resumes, repairs and stores as it goes."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tinyagent import (
    Agent,
    AssistantMessage,
    CallbackError,
    ImageContent,
    InMemorySession,
    JSONLSession,
    Message,
    MessageEndEvent,
    PostgresSession,
    SQLiteSession,
    StopReason,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
    tool,
)
from tinyagent.sessions import Session
from tinyagent.testing import LocalServer, text_reply, tool_call_reply

pytestmark = pytest.mark.anyio

TRANSCRIPT: list[Message] = [
    UserMessage("look at this", timestamp=1.0),
    UserMessage((TextContent("and"), ImageContent("aGk=", "image/png")), timestamp=2.0),
    AssistantMessage(
        (
            ThinkingContent("hmm", signature="sig"),
            TextContent("calling"),
            ToolCall("c1", "add", {"a": 1, "b": 2}),
        ),
        StopReason.TOOL_USE,
        model="m",
        provider="p",
        usage=Usage(input=3, output=4, total=7),
        timestamp=3.0,
    ),
    ToolResultMessage("c1", "add", (TextContent("3"),), details={"x": [1]}, timestamp=4.0),
    AssistantMessage((TextContent("3 it is"),), StopReason.STOP, timestamp=5.0),
]


@pytest.fixture(params=["memory", "jsonl", "sqlite", "postgres"])
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "memory":
        yield InMemorySession()
    elif request.param == "jsonl":
        yield JSONLSession(tmp_path / "chat.jsonl")
    elif request.param == "postgres":  # a real server; an id of the test's own
        url = request.getfixturevalue("postgres_url")
        with PostgresSession(url, f"chat-{uuid.uuid4().hex}") as s:
            yield s
    else:
        with SQLiteSession(tmp_path / "chats.db", "chat") as s:
            yield s


async def test_every_message_kind_round_trips(session: Session) -> None:
    assert await session.load() == []
    await session.append(TRANSCRIPT[:2])
    await session.append(TRANSCRIPT[2:])
    assert await session.load() == TRANSCRIPT
    await session.replace(TRANSCRIPT[:1])  # type: ignore[attr-defined]
    assert await session.load() == TRANSCRIPT[:1]
    await session.clear()
    assert await session.load() == []


async def test_an_agent_resumes_its_conversation(session: Session, transport: str) -> None:
    async with LocalServer([text_reply("hello"), text_reply("again")]) as server:
        options = {"stream_options": {"transport": transport}}
        first = Agent(server.model(), session=session, **options)
        await first.prompt("hi")
        second = Agent(server.model(), session=session, **options)
        await second.prompt("and now?")
    sent = server.requests[1].json["messages"]
    assert [m["content"] for m in sent] == ["hi", "hello", "and now?"]
    assert [m.role for m in await session.load()] == ["user", "assistant"] * 2


async def test_messages_are_stored_before_listeners_hear_of_them(session: Session) -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    checked: list[str] = []

    async def listener(event: Any) -> None:
        if isinstance(event, MessageEndEvent):
            stored = await session.load()
            assert event.message in stored
            checked.append(event.message.role)

    replies = [tool_call_reply([("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})]),
               text_reply("3 and 7")]  # fmt: skip
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=[add], session=session)
        agent.subscribe(listener)
        await agent.prompt("add")
    assert checked == ["user", "assistant", "toolResult", "toolResult", "assistant"]


async def test_an_unanswered_call_is_answered_as_aborted_on_load(session: Session) -> None:
    await session.append(TRANSCRIPT[:3])  # a crash after the reply, before its result
    async with LocalServer([text_reply("ok")]) as server:
        agent = Agent(server.model(), session=session)
        await agent.sync_session()
        (result,) = [m for m in agent.messages if isinstance(m, ToolResultMessage)]
        assert result.is_error and "process ended" in result.text
        assert (await session.load())[-1] == result  # stored, not only in memory
        await agent.prompt("go on")
    assert server.requests[0].json["messages"][-2]["role"] == "tool"


async def test_edits_by_sync_methods_are_stored_at_the_next_run(session: Session) -> None:
    await session.append(TRANSCRIPT)
    async with LocalServer([text_reply("fresh")]) as server:
        agent = Agent(server.model(), session=session)
        await agent.sync_session()
        agent.replace_messages(TRANSCRIPT[:1])
        await agent.prompt("again")
    assert [m.role for m in await session.load()] == ["user", "user", "assistant"]
    agent.clear_messages()
    await agent.sync_session()
    assert await session.load() == []


async def test_a_session_write_failure_ends_the_run_saying_so() -> None:
    class Broken(InMemorySession):
        async def append(self, messages: Sequence[Message]) -> None:
            raise OSError("disk full")

    async with LocalServer([text_reply("hello")]) as server:
        agent = Agent(server.model(), session=Broken())
        with pytest.raises(CallbackError, match=r"could not store 1 message.*disk full") as info:
            await agent.prompt("hi")
    assert info.value.callback == "session"


async def test_messages_and_a_non_empty_session_are_refused(session: Session) -> None:
    await session.append(TRANSCRIPT[:1])
    async with LocalServer([]) as server:
        agent = Agent(server.model(), messages=TRANSCRIPT[1:2], session=session)
        with pytest.raises(Exception, match="messages and a session"):
            await agent.prompt("x")


async def test_not_a_session_is_refused() -> None:
    with pytest.raises(TypeError, match="load\\(\\), append\\(\\) and clear\\(\\)"):
        Agent(session=object())  # type: ignore[arg-type]


async def test_a_torn_last_jsonl_line_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    session = JSONLSession(path)
    await session.append(TRANSCRIPT[:2])
    torn = path.read_bytes() + b'{"role":"user","cont'  # the process died mid-write
    path.write_bytes(torn)
    assert await session.load() == TRANSCRIPT[:2]
    await session.append(TRANSCRIPT[2:3])
    assert await session.load() == TRANSCRIPT[:3]


async def test_a_whole_last_jsonl_message_without_its_newline_is_kept(tmp_path: Path) -> None:
    """A torn line is one that does not parse, not one that lacks its newline (a file
    saved by an editor): the message stays, and the next append starts its own line."""
    path = tmp_path / "chat.jsonl"
    session = JSONLSession(path)
    await session.append(TRANSCRIPT[:2])
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    assert await session.load() == TRANSCRIPT[:2]
    assert path.read_bytes().endswith(b"\n") and path.read_bytes().count(b"\n") == 2
    await session.append(TRANSCRIPT[2:3])
    assert await session.load() == TRANSCRIPT[:3]


async def test_a_corrupt_jsonl_line_names_its_number(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text('{"role":"user","content":"hi","timestamp":1}\n{"nope": 1}\n')
    with pytest.raises(ValueError, match="line 2 cannot be read"):
        await JSONLSession(path).load()


async def test_sqlite_sessions_share_a_file_by_id(tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    with SQLiteSession(db, "a") as a, SQLiteSession(db, "b") as b:
        await a.append(TRANSCRIPT[:1])
        await b.append(TRANSCRIPT[1:2])
        assert await a.load() == TRANSCRIPT[:1] and await b.load() == TRANSCRIPT[1:2]
        assert await a.count() == 1
        await a.clear()
        assert await a.load() == [] and await b.load() == TRANSCRIPT[1:2]
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


async def test_a_corrupt_sqlite_row_loads_nothing_and_names_it(tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    with SQLiteSession(db, "a") as a:
        await a.append(TRANSCRIPT[:2])
    conn = sqlite3.connect(db)
    conn.execute("UPDATE tinyagent_messages SET data = '{' WHERE seq = 1")
    conn.commit()
    conn.close()
    with SQLiteSession(db, "a") as a, pytest.raises(ValueError, match="stored message 1"):
        await a.load()


async def test_a_newer_or_foreign_database_is_refused(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with SQLiteSession(newer) as s, pytest.raises(ValueError, match="newer tinyagent"):
        await s.load()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with SQLiteSession(junk) as s, pytest.raises(ValueError, match="not a usable session"):
        await s.load()


async def test_a_lone_surrogate_from_a_tool_or_a_prompt_is_kept_by_one_rule(
    session: Session, tmp_path: Path
) -> None:
    """An ordinary file name decoded by os.fsdecode holds lone surrogates. Whether a tool
    returns it or the user types it, it becomes U+FFFD (the rule the streams follow),
    so the run ends well, memory and store agree, and the reloaded transcript is valid."""
    import os

    name = os.fsdecode(b"report-\xe9t\xe9.txt")

    @tool
    def newest_file() -> str:
        """The newest file's name."""
        return name

    replies = [tool_call_reply([("newest_file", {})]), text_reply("done"), text_reply("ok")]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=[newest_file], session=session)
        await agent.prompt("which file?")
        await agent.prompt(f"open {name}")
        assert agent.state.last_error is None
        stored = await session.load()
        assert stored == list(agent.messages)
        assert [m.role for m in stored] == [
            "user", "assistant", "toolResult", "assistant", "user", "assistant",
        ]  # fmt: skip
        assert stored[2].text == "report-\ufffdt\ufffd.txt"
        assert stored[4].text == "open report-\ufffdt\ufffd.txt"
        agent.save(tmp_path / "agent.json")  # no UnicodeEncodeError
        assert Agent.load(tmp_path / "agent.json").messages == agent.messages


async def test_an_append_waits_for_another_writer_instead_of_failing(tmp_path: Path) -> None:
    """The append made on the caller's thread never waits: while another connection
    holds the write lock it goes to the worker, which waits for the lock."""
    import anyio

    db = tmp_path / "busy.db"
    with SQLiteSession(db, "s") as session:
        await session.append([UserMessage("first")])  # opens both connections
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the database
        done = anyio.Event()

        async def append() -> None:
            await session.append([UserMessage("second")])
            done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(append)
            await anyio.sleep(0.2)
            assert not done.is_set()  # waiting for the lock, not failed
            other.execute("COMMIT")
        other.close()
        assert [m.text for m in await session.load()] == ["first", "second"]


async def test_appends_on_the_callers_thread_are_checkpointed(tmp_path: Path) -> None:
    db = tmp_path / "many.db"
    with SQLiteSession(db, "s") as session:
        for i in range(1500):
            await session.append([UserMessage(f"m{i}")])
        # the log is folded into the database as it goes: it stays small
        assert (tmp_path / "many.db-wal").stat().st_size < 4 * 1024 * 1024
        assert len(await session.load()) == 1500
    with SQLiteSession(db, "s") as again:
        assert [m.text for m in await again.load()][-1] == "m1499"


async def test_two_writers_on_one_id_keep_every_message_in_order(tmp_path: Path) -> None:
    """Each session object keeps the position after its last message; another writer's
    rows since (another object, another process) take it, and the position is read
    again: nothing is lost, nothing fails, the order is the order of the appends."""
    db = tmp_path / "shared.db"
    with SQLiteSession(db, "s") as a, SQLiteSession(db, "s") as b:
        said: list[str] = []
        for i in range(6):
            for writer, name in ((a, "a"), (b, "b"), (a, "a")):
                said.append(f"{name}{i}")
                await writer.append([UserMessage(said[-1])])
        await b.append([UserMessage("b-pair-1"), UserMessage("b-pair-2")])
        await a.append([UserMessage("a-last")])
        said += ["b-pair-1", "b-pair-2", "a-last"]
        for reader in (a, b):
            assert [m.text for m in await reader.load()] == said


async def test_a_writer_after_another_cleared_or_replaced_the_id_appends_after(
    tmp_path: Path,
) -> None:
    db = tmp_path / "shared.db"
    with SQLiteSession(db, "s") as a, SQLiteSession(db, "s") as b:
        for i in range(3):
            await a.append([UserMessage(f"a{i}")])
        await b.clear()
        await a.append([UserMessage("after the clear")])
        assert [m.text for m in await b.load()] == ["after the clear"]
        await b.replace([UserMessage(f"r{i}") for i in range(8)])  # past a's position
        await a.append([UserMessage("after the replace")])
        replaced = [f"r{i}" for i in range(8)]
        assert [m.text for m in await b.load()] == [*replaced, "after the replace"]
        await a.replace([UserMessage("mine")])
        await a.append([UserMessage("then this")])
        assert [m.text for m in await b.load()] == ["mine", "then this"]
        await b.append([UserMessage("and b's")])
        assert [m.text for m in await a.load()] == ["mine", "then this", "and b's"]
        assert await a.count() == 3


# --- where an append is written: the caller's thread, unless it must wait ----------


def _writes_on(store: Any, method: str, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record, for each call of ``store.method``, whether it ran on this thread."""
    import threading

    here = threading.get_ident()
    real = getattr(store, method)
    seen: list[bool] = []

    def spy(*args: Any) -> Any:
        seen.append(threading.get_ident() == here)
        return real(*args)

    monkeypatch.setattr(store, method, spy)
    return seen


@pytest.mark.parametrize(
    ("durable", "size", "on_this_thread"),
    [(False, 10, True), (True, 10, False), (False, 300_000, False)],
    ids=["small", "durable", "large"],
)
async def test_a_jsonl_append_is_written_here_unless_durable_or_large(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durable: bool, size: int, on_this_thread: bool
) -> None:
    """A small append is one write into the page cache, cheaper here than a thread hop;
    an fsync, or a long write, goes to a worker thread so the event loop never waits."""
    session = JSONLSession(tmp_path / "chat.jsonl", durable=durable)
    seen = _writes_on(session, "_write", monkeypatch)
    await session.append([UserMessage("x" * size)])
    await session.append([UserMessage("next")])
    assert seen == [on_this_thread, not durable or on_this_thread]
    assert [m.text for m in await session.load()] == ["x" * size, "next"]


async def test_a_large_sqlite_append_goes_to_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SQLiteSession(tmp_path / "big.db", "s") as session:
        await session.append([UserMessage("first")])  # opens both connections
        seen = _writes_on(session, "_insert_locked_rows", monkeypatch)
        await session.append([UserMessage("small")])
        await session.append([UserMessage("y" * 300_000)])
        await session.append([UserMessage("small again")])
        assert seen == [True, False, True]
        texts = [m.text for m in await session.load()]
        assert texts == ["first", "small", "y" * 300_000, "small again"]


@pytest.mark.parametrize("store", ["jsonl", "sqlite"])
async def test_an_append_cancelled_before_it_starts_stores_nothing(
    tmp_path: Path, store: str
) -> None:
    import anyio

    session: Any = (
        JSONLSession(tmp_path / "c.jsonl") if store == "jsonl" else SQLiteSession(tmp_path / "c.db")
    )
    with session if store == "sqlite" else contextlib.nullcontext():
        await session.append([UserMessage("kept")])
        with anyio.CancelScope() as scope:
            scope.cancel()
            await session.append([UserMessage("never")])
        assert scope.cancelled_caught
        assert [m.text for m in await session.load()] == ["kept"]


async def test_a_jsonl_file_held_during_a_run_follows_its_path(tmp_path: Path) -> None:
    """While a lease is held the file stays open for appends; one deleted, renamed over
    (as an editor saves) or replaced by the session meanwhile is let go, never written
    to unseen, and the descriptor is closed when the lease is released."""
    import os

    path = tmp_path / "chat.jsonl"
    session = JSONLSession(path)
    fds = len(os.listdir("/dev/fd"))
    await session.acquire("me")
    await session.append([UserMessage("one")])
    await session.append([UserMessage("two")])
    assert len(os.listdir("/dev/fd")) == fds + 2  # the lock file and the held file
    path.unlink()
    await session.append([UserMessage("after a delete")])
    assert [m.text for m in await session.load()] == ["after a delete"]
    edited = tmp_path / "edited.jsonl"
    edited.write_bytes(path.read_bytes().replace(b"after a delete", b"edited"))
    edited.replace(path)
    await session.append([UserMessage("after an edit")])
    assert [m.text for m in await session.load()] == ["edited", "after an edit"]
    await session.replace([UserMessage("replaced")])
    await session.append([UserMessage("after a replace")])
    assert [m.text for m in await session.load()] == ["replaced", "after a replace"]
    await session.release("me")
    assert len(os.listdir("/dev/fd")) == fds


async def test_a_lease_is_taken_and_given_back_here_once_the_file_is_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's lease costs no thread hop: SQLite's after the store's first call (which
    opens the connection for this thread), JSON Lines' always."""
    with SQLiteSession(tmp_path / "chats.db", "s") as sqlite_session:
        await sqlite_session.count()  # the worker's first call opens both connections
        taken = _writes_on(sqlite_session, "_acquire", monkeypatch)
        given = _writes_on(sqlite_session, "_release", monkeypatch)
        await sqlite_session.acquire("me")
        await sqlite_session.release("me")
        assert (taken, given) == ([True], [True])
    jsonl_session = JSONLSession(tmp_path / "chat.jsonl")
    seen = _writes_on(jsonl_session, "_lock", monkeypatch)
    await jsonl_session.acquire("me")
    await jsonl_session.release("me")
    assert seen == [True]


async def test_a_lease_waits_for_another_writer_instead_of_failing(tmp_path: Path) -> None:
    import anyio

    db = tmp_path / "busy.db"
    with SQLiteSession(db, "s") as session:
        await session.count()  # opens both connections
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the database
        steps: list[str] = []

        async def run() -> None:
            await session.acquire("me")
            steps.append("acquired")
            await session.release("me")
            steps.append("released")

        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await anyio.sleep(0.2)
            assert steps == []  # waiting for the lock, not failed
            other.execute("COMMIT")
        other.close()
        assert steps == ["acquired", "released"]


async def test_a_jsonl_lock_file_names_its_holder_over_a_longer_stale_one(tmp_path: Path) -> None:
    """The owner is written over the last one in place (no truncation each run): a
    longer text left there by anything else is cut, and the holder read back whole."""
    from tinyagent.sessions import SessionInUseError

    path = tmp_path / "chat.jsonl"
    (tmp_path / "chat.jsonl.lock").write_text("x" * 1000)
    first, second = JSONLSession(path), JSONLSession(path)
    await first.acquire("localhost-not-this:1:abc")
    assert (tmp_path / "chat.jsonl.lock").read_text().strip() == "localhost-not-this:1:abc"
    with pytest.raises(SessionInUseError, match=r"pid 1 on localhost-not-this"):
        await second.acquire("me")
    await first.release("localhost-not-this:1:abc")
    await second.acquire("me")
    await second.release("me")
