"""Session stores refuse what they cannot use, at the door and naming the path (issue
21, item 21): a directory, a missing folder, another program's database, a table that
is not ours; and a read-only SQLite history loads, failing clearly only when a message
must be stored."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tinyagent import Agent, JSONLSession, SQLiteSession, UserMessage
from tinyagent.testing import LocalServer, text_reply

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("store", [SQLiteSession, JSONLSession])
def test_a_directory_or_a_missing_folder_is_refused_naming_it(store: type, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"{tmp_path} is a directory, not a session"):
        store(tmp_path)
    missing = tmp_path / "nope" / "chat.db"
    with pytest.raises(ValueError, match=f"its folder {tmp_path / 'nope'} does not exist"):
        store(missing)


async def test_another_program_s_database_is_refused_not_written(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE users (id INTEGER, name TEXT)")
    conn.close()
    with SQLiteSession(db, "s") as session:
        with pytest.raises(ValueError, match="is another program's database \\(tables users\\)"):
            await session.load()
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert tables == {"users"}  # nothing of ours was added


async def test_a_table_of_our_name_that_is_not_ours_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "odd.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE tinyagent_messages (x TEXT)")
    conn.close()
    with SQLiteSession(db, "s") as session:
        with pytest.raises(ValueError, match="its tinyagent_messages table is not tinyagent's"):
            await session.load()


@pytest.fixture
def immutable() -> Iterator[list[Path]]:
    """Files made immutable (``chattr +i``: even root cannot write them), made mutable
    again after the test so that they can be removed."""
    made: list[Path] = []
    yield made
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=False)


async def test_a_read_only_history_loads_and_storing_says_why_not(
    tmp_path: Path, immutable: list[Path]
) -> None:
    db = tmp_path / "old.db"
    with SQLiteSession(db, "s") as session:
        await session.append([UserMessage("kept from before")])
    with sqlite3.connect(db) as conn:  # a history handed over: one file, no WAL beside it
        conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    await anyio.run_process(["chattr", "+i", str(db)])  # raises if it cannot
    immutable.append(db)
    async with LocalServer(handler=lambda r: text_reply("hi")) as server:
        with SQLiteSession(db, "s") as session:
            assert [m.text for m in await session.load()] == ["kept from before"]
            agent = Agent(server.model(), session=session)
            await agent.sync_session()  # loading works: no lease, no repair to store
            assert [m.text for m in agent.messages] == ["kept from before"]
            with pytest.raises(
                ValueError, match=f"{db} is read-only, so messages cannot be stored"
            ):
                await session.append([UserMessage("new")])
