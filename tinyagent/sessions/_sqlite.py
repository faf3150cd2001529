"""A session in SQLite (the standard library's ``sqlite3``), safe to share.

Calls run in a worker thread so the event loop never waits on the disk or on another
writer's lock — except an append or a lease that cannot wait (``_here_or_not``: no
fsync, no lock held by anyone else), which is cheaper done in place than handed over. Each
``append`` is one transaction (``BEGIN IMMEDIATE``: the writer takes the lock before it
reads the next position), in WAL mode, so a process killed at any instant leaves every
committed message whole and nothing half-written; several agents, threads or processes
may share one file, one row set per session id. ``durable=True`` also survives a power
loss (``synchronous=FULL``, an fsync per commit); the default survives a killed process,
which is what WAL with ``synchronous=NORMAL`` guarantees.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio.lowlevel
import anyio.to_thread

from ..messages import Message
from ._lease import SessionInUseError, owner_alive, owner_words
from ._protocol import IN_PLACE_LIMIT
from ._rows import Row, RowStore, encode_rows

__all__ = ["SQLiteSession"]

T = TypeVar("T")
_CHECKPOINT_EVERY = 256  # appends made on the caller's thread between two checkpoints
_INSERT = (
    "INSERT INTO tinyagent_messages (session_id, seq, role, data, created) VALUES (?, ?, ?, ?, ?)"
)
SCHEMA_VERSION = 2  # 2: the leases table (a version-1 file gains it when opened)
_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS tinyagent_messages (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    role TEXT NOT NULL,
    data TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID
""",
    """
CREATE TABLE IF NOT EXISTS tinyagent_leases (
    session_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    since REAL NOT NULL
) WITHOUT ROWID
""",
)


class SQLiteSession(RowStore):
    """``Agent(session=SQLiteSession("chats.db", "user-42"))`` resumes that conversation."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        session_id: str = "default",
        *,
        durable: bool = False,
        busy_timeout: float = 30.0,
    ) -> None:
        if not isinstance(session_id, str) or not session_id:
            raise ValueError(f"session_id must be a non-empty str, got {session_id!r}")
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"{self.path} is a directory, not a session database file")
        if not self.path.parent.is_dir():
            raise ValueError(f"{self.path}: its folder {self.path.parent} does not exist")
        self._readonly = False
        self.session_id = session_id
        self.durable = durable
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one statement sequence at a time on the connections
        # The connection for what cannot wait, on the caller's thread (``_here_or_not``),
        # opened by the worker after its first call; and how many appends it committed
        # since a checkpoint.
        self._here: sqlite3.Connection | None = None
        self._here_commits = 0
        # The position after the last message this object stored (None: read it).
        self._next_seq: int | None = None

    def __repr__(self) -> str:
        return f"SQLiteSession({str(self.path)!r}, {self.session_id!r})"

    # --- the protocol (the rest is RowStore's) -----------------------------------------

    async def append(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        rows = encode_rows(messages)
        # Cancelled before anything is written, as the memory store is (without its
        # scheduling point: a turn appends twice, and costs count there).
        await anyio.lowlevel.checkpoint_if_cancelled()
        if self._append_here(rows):
            return
        await self._call(self._insert_then_checkpoint, rows)

    async def acquire(self, owner: str) -> None:
        # A run takes the lease and gives it back: in place too when that cannot wait
        # (a prompt of one short reply costs about as much as the two hops would).
        await anyio.lowlevel.checkpoint_if_cancelled()
        await self._here_else_worker(self._acquire, owner)

    async def release(self, owner: str) -> None:
        await self._here_else_worker(self._release, owner)

    def close(self) -> None:
        """Close the connections (a later call opens them again)."""
        with self._lock:
            for conn in (self._conn, self._here):
                if conn is not None:
                    conn.close()
            self._conn = self._here = None

    # --- what cannot wait, on the caller's thread --------------------------------------

    def _append_here(self, rows: Sequence[Row]) -> bool:
        """Store ``rows`` on this thread when that cannot wait; True if it did.

        A worker-thread hop costs more CPU than a small transaction (60-90 µs against
        about 25), and a session appends twice a turn. In WAL mode with
        ``synchronous=NORMAL`` a commit is a write into the page cache, with no fsync, so
        it can run on the event loop's thread as long as nothing else makes it wait (see
        :meth:`_here_or_not`). It never checkpoints (the worker does, every
        ``_CHECKPOINT_EVERY`` appends made here), and a large append goes to the worker
        (``IN_PLACE_LIMIT``: a tool's result of megabytes is hundreds of pages)."""
        if self._here_commits >= _CHECKPOINT_EVERY:
            return False  # this one goes to the worker, which checkpoints after it
        if sum([len(row[1]) for row in rows]) > IN_PLACE_LIMIT:
            return False
        if not self._here_or_not(self._insert_rows, rows, False):
            return False
        self._here_commits += 1
        return True

    def _here_or_not(self, fn: Callable[..., object], *args: Any) -> bool:
        """Run ``fn(connection, *args)`` on this thread when that cannot wait; True if
        it did, False if the worker thread must (then nothing was stored).

        The connection for this thread, opened by the worker after its first call,
        has a busy timeout of 0: if another writer holds the database, BEGIN fails at
        once and the worker, which waits for the lock, does the call again and reports
        what it meets. ``durable=True`` (an fsync per commit) always goes to the
        worker."""
        conn = self._here
        if conn is None or self.durable or self._readonly:
            return False
        if not self._lock.acquire(blocking=False):
            return False  # the worker has the connections: queue behind it
        try:
            fn(conn, *args)
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return False
        finally:
            self._lock.release()
        return True

    async def _here_else_worker(self, fn: Callable[..., object], *args: Any) -> None:
        if not self._here_or_not(fn, *args):
            await self._call(fn, *args)

    def _insert_then_checkpoint(self, conn: sqlite3.Connection, rows: list[Row]) -> None:
        self._insert(conn, rows)
        if self._here_commits >= _CHECKPOINT_EVERY:
            self._here_commits = 0
            # Fold the log into the database without waiting on readers (PASSIVE).
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    # --- in the worker thread ------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(self._locked, fn, args)

    def _locked(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self._lock:
            out = fn(self._connection(), *args)
            if self._here is None and not self.durable and not self._readonly:
                # The caller's thread's connection, for what cannot wait from now on.
                # Only a saving: if it cannot be opened, this call's work still stands
                # and the worker goes on doing everything (its calls report failures).
                with contextlib.suppress(ValueError, sqlite3.Error):
                    self._here = self._open(busy_timeout=0.0, autocheckpoint=False)
            return out

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open(self._busy_timeout, autocheckpoint=True)
        return self._conn

    def _open(self, busy_timeout: float, autocheckpoint: bool) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise ValueError(f"{self.path}: cannot open it as a session database ({exc})") from None
        try:
            self._prepare_when_free(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise ValueError(f"{self.path} is not a usable session database: {exc}") from None
        except BaseException:
            conn.close()
            raise
        if not autocheckpoint:
            conn.execute("PRAGMA wal_autocheckpoint=0")
        return conn

    def _prepare_when_free(self, conn: sqlite3.Connection) -> None:
        """:meth:`_prepare`, again while another process holds the file in a way the busy
        timeout does not wait for (two processes making one new file at once: one is
        switching it to WAL while the other reads its schema)."""
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                self._prepare(conn)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                time.sleep(0.02)

    def _prepare(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"{self.path} holds sessions of a newer tinyagent (schema {version}, this "
                f"one reads {SCHEMA_VERSION}): upgrade tinyagent to open it"
            )
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if version == 0 and tables and "tinyagent_messages" not in tables:
            shown = ", ".join(sorted(tables)[:5])
            raise ValueError(
                f"{self.path} is another program's database (tables {shown}), not a "
                "tinyagent session database: use a file of its own"
            )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'NORMAL'}")
            if version < SCHEMA_VERSION or not {"tinyagent_messages", "tinyagent_leases"} <= tables:
                conn.execute("BEGIN IMMEDIATE")
                for table in _SCHEMA:
                    conn.execute(table)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if not _is_readonly(exc):
                raise
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            # A history that cannot be written: it loads; storing says why it cannot.
            self._readonly = True
            if "tinyagent_messages" not in tables:
                raise ValueError(
                    f"{self.path} is read-only and holds no tinyagent sessions"
                ) from None
        columns = [r[1] for r in conn.execute("PRAGMA table_info(tinyagent_messages)")]
        if columns != ["session_id", "seq", "role", "data", "created"]:
            raise ValueError(
                f"{self.path}: its tinyagent_messages table is not tinyagent's (columns "
                f"{', '.join(columns) or 'none'}); use a file of its own"
            )

    def _select(self, conn: sqlite3.Connection) -> list[tuple[int, str]]:
        return conn.execute(
            "SELECT seq, data FROM tinyagent_messages WHERE session_id = ? ORDER BY seq",
            (self.session_id,),
        ).fetchall()

    def _count(self, conn: sqlite3.Connection) -> int:
        row = conn.execute(
            "SELECT COUNT(*) FROM tinyagent_messages WHERE session_id = ?", (self.session_id,)
        ).fetchone()
        return int(row[0])

    def _writable(self) -> None:
        if self._readonly:
            raise ValueError(
                f"{self!r}: {self.path} is read-only, so messages cannot be stored (loading works)"
            )

    def _insert(self, conn: sqlite3.Connection, rows: list[Row], replace: bool = False) -> None:
        self._writable()
        try:
            self._insert_rows(conn, rows, replace)
        except sqlite3.OperationalError as exc:
            if _is_readonly(exc):
                self._readonly = True
                self._writable()
            raise

    def _insert_rows(self, conn: sqlite3.Connection, rows: list[Row], replace: bool) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if replace:
                self._delete(conn)
            self._insert_locked_rows(conn, rows)
            conn.execute("COMMIT")
        except BaseException:
            self._next_seq = None  # kept for rows that were rolled back
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _insert_locked_rows(self, conn: sqlite3.Connection, rows: Sequence[Row]) -> None:
        """The inserts of one append, inside a write transaction already begun.

        A message's position is the one after the last this session stored, kept from
        its last append: a statement less a message (a turn appends two). Another writer
        may have stored rows since (another session object or process on this id): then
        the kept position is taken, the insert fails on the key and stores nothing, and
        the position is read again. One that cleared the id leaves a gap, which keeps
        the order."""
        start = self._next_seq
        if start is not None and len(rows) == 1:
            try:
                conn.execute(_INSERT, (self.session_id, start, *rows[0]))
            except sqlite3.IntegrityError:
                pass  # taken by another writer since: read the position
            else:
                self._next_seq = start + 1
                return
        (start,) = conn.execute(
            "SELECT COALESCE(MAX(seq) + 1, 0) FROM tinyagent_messages WHERE session_id = ?",
            (self.session_id,),
        ).fetchone()
        conn.executemany(
            _INSERT, [(self.session_id, start + i, *row) for i, row in enumerate(rows)]
        )
        self._next_seq = start + len(rows)

    def _acquire(self, conn: sqlite3.Connection, owner: str) -> None:
        if self._readonly:
            return  # nothing can be stored here, by anyone: there is nothing to lease
        try:
            self._take_lease(conn, owner)
        except sqlite3.OperationalError as exc:
            if not _is_readonly(exc):
                raise
            self._readonly = True

    def _take_lease(self, conn: sqlite3.Connection, owner: str) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "SELECT owner FROM tinyagent_leases WHERE session_id = ?", (self.session_id,)
            ).fetchone()
            if row is not None and row[0] != owner and owner_alive(row[0]):
                raise SessionInUseError(
                    f"{self!r} is in use by {owner_words(row[0])}: wait for its run to end, "
                    "or use another session id"
                )
            conn.execute(
                "INSERT OR REPLACE INTO tinyagent_leases (session_id, owner, since) "
                "VALUES (?, ?, ?)",
                (self.session_id, owner, time.time()),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _release(self, conn: sqlite3.Connection, owner: str | None) -> None:
        if self._readonly:
            return
        if owner is None:
            conn.execute("DELETE FROM tinyagent_leases WHERE session_id = ?", (self.session_id,))
        else:
            conn.execute(
                "DELETE FROM tinyagent_leases WHERE session_id = ? AND owner = ?",
                (self.session_id, owner),
            )

    def _delete(self, conn: sqlite3.Connection) -> None:
        self._writable()
        self._next_seq = None
        conn.execute("DELETE FROM tinyagent_messages WHERE session_id = ?", (self.session_id,))


def _is_readonly(exc: sqlite3.OperationalError) -> bool:
    return "readonly" in str(exc) or "read-only" in str(exc)
