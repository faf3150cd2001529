"""A session in PostgreSQL (psycopg 3, the ``postgres`` extra): one conversation store for
several machines behind a load balancer.

The same protocol and the same crash rules as :class:`SQLiteSession`: each ``append``
is one transaction (a transaction-scoped advisory lock on the session id orders the
writers, so positions never collide), so a process killed at any instant leaves every
committed message whole; the lease table makes a second live agent on an id wait its
turn, and a load answers a call left open only once its run is gone. Calls run in a
worker thread (psycopg's blocking connection), so the event loop never waits on the
network, under trio and asyncio alike.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio.to_thread

from ._lease import SessionInUseError, owner_alive, owner_words
from ._rows import Row, RowStore

__all__ = ["PostgresSession"]

T = TypeVar("T")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS tinyagent_messages (session_id TEXT NOT NULL, seq BIGINT NOT NULL, "
    "role TEXT NOT NULL, data TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, "
    "PRIMARY KEY (session_id, seq))",
    "CREATE TABLE IF NOT EXISTS tinyagent_leases (session_id TEXT PRIMARY KEY, owner TEXT NOT NULL, "
    "since DOUBLE PRECISION NOT NULL)",
)
# One advisory lock key for the schema, and one per session id (hashtext) for its writers.
_SCHEMA_LOCK = 0x7A5E55
_prepared: set[str] = set()  # the servers whose schema this process checked
_prepared_lock = threading.Lock()


def _safe_url(url: str) -> str:
    """The URL without its password, for messages and reprs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


class PostgresSession(RowStore):
    """``Agent(session=PostgresSession("postgresql://host/db", "user-42"))``."""

    def __init__(
        self, url: str, session_id: str = "default", *, connect_timeout: float = 10.0
    ) -> None:
        self.check_url(url)
        if not isinstance(session_id, str) or not session_id:
            raise ValueError(f"session_id must be a non-empty str, got {session_id!r}")
        self._url = url
        self.session_id = session_id
        self._connect_timeout = connect_timeout
        self._conn: Any = None
        self._lock = threading.Lock()

    @staticmethod
    def check_url(url: str) -> None:
        """Refuse what is not a PostgreSQL URL, before anything connects."""
        if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                f"a PostgreSQL session needs a postgresql:// URL, got {_safe_url(str(url))!r}"
            )
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ValueError(
                "PostgresSession needs psycopg: pip install 'tinyagent-sdk[postgres]'"
            ) from None

    def __repr__(self) -> str:
        return f"PostgresSession({_safe_url(self._url)!r}, {self.session_id!r})"

    def close(self) -> None:
        """Close the connection (a later call opens it again)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # --- in the worker thread ------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(self._locked, fn, args)

    def _locked(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        import psycopg

        with self._lock:
            conn = self._connection()
            try:
                return fn(conn, *args)
            except psycopg.OperationalError as exc:
                # the connection is gone (a restart, a network cut): the next call reconnects
                self._conn.close()
                self._conn = None
                raise ValueError(
                    f"{self!r}: the database connection failed ({_first_line(exc)})"
                ) from None

    def _connection(self) -> Any:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        import psycopg

        try:
            conn = psycopg.connect(
                self._url, autocommit=True, connect_timeout=max(1, int(self._connect_timeout))
            )
        except psycopg.Error as exc:
            raise ValueError(f"{self!r}: cannot connect ({_first_line(exc)})") from None
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _prepare(self, conn: Any) -> None:
        key = _safe_url(self._url)
        with _prepared_lock:
            if key in _prepared:
                return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for statement in _SCHEMA:
                conn.execute(statement)
        cols = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = "
                "'tinyagent_messages' AND table_schema = current_schema() ORDER BY ordinal_position"
            ).fetchall()
        ]
        if cols != ["session_id", "seq", "role", "data", "created"]:
            raise ValueError(
                f"{self!r}: its tinyagent_messages table is not tinyagent's (columns "
                f"{', '.join(cols) or 'none'}); use a database of its own"
            )
        with _prepared_lock:
            _prepared.add(key)

    def _select(self, conn: Any) -> list[tuple[int, str]]:
        rows = conn.execute(
            "SELECT seq, data FROM tinyagent_messages WHERE session_id = %s ORDER BY seq",
            (self.session_id,),
        ).fetchall()
        return [(int(seq), str(data)) for seq, data in rows]

    def _count(self, conn: Any) -> int:
        row = conn.execute(
            "SELECT COUNT(*) FROM tinyagent_messages WHERE session_id = %s", (self.session_id,)
        ).fetchone()
        return int(row[0])

    def _insert(self, conn: Any, rows: list[Row], replace: bool = False) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.session_id,))
            if replace:
                conn.execute(
                    "DELETE FROM tinyagent_messages WHERE session_id = %s", (self.session_id,)
                )
            (start,) = conn.execute(
                "SELECT COALESCE(MAX(seq) + 1, 0) FROM tinyagent_messages WHERE session_id = %s",
                (self.session_id,),
            ).fetchone()
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO tinyagent_messages (session_id, seq, role, data, created) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    [(self.session_id, start + i, *row) for i, row in enumerate(rows)],
                )

    def _acquire(self, conn: Any, owner: str) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.session_id,))
            row = conn.execute(
                "SELECT owner FROM tinyagent_leases WHERE session_id = %s", (self.session_id,)
            ).fetchone()
            if row is not None and row[0] != owner and owner_alive(row[0]):
                raise SessionInUseError(
                    f"{self!r} is in use by {owner_words(row[0])}: wait for its run to end, "
                    "or use another session id"
                )
            conn.execute(
                "INSERT INTO tinyagent_leases (session_id, owner, since) VALUES (%s, %s, %s) "
                "ON CONFLICT (session_id) DO UPDATE SET owner = EXCLUDED.owner, since = EXCLUDED.since",
                (self.session_id, owner, time.time()),
            )

    def _release(self, conn: Any, owner: str | None) -> None:
        if owner is None:
            conn.execute("DELETE FROM tinyagent_leases WHERE session_id = %s", (self.session_id,))
        else:
            conn.execute(
                "DELETE FROM tinyagent_leases WHERE session_id = %s AND owner = %s",
                (self.session_id, owner),
            )

    def _delete(self, conn: Any) -> None:
        conn.execute("DELETE FROM tinyagent_messages WHERE session_id = %s", (self.session_id,))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
