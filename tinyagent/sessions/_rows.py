"""What the two database stores share (SQLite, PostgreSQL): a session as rows, one per
message, encoded once and read back whole, and the protocol's calls each run by the
store's own ``_call`` (off the event loop) on its own statements."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Self, TypeVar

from ..messages import Message
from ..serde import dumps, loads

__all__ = ["Row", "RowStore", "encode_rows"]

T = TypeVar("T")
Row = tuple[str, str, float]
"""One message as stored: its role, its JSON, when it was stored."""


def encode_rows(messages: Sequence[Message]) -> list[Row]:
    """The rows of ``messages``, encoded here (not under a store's lock)."""
    now = time.time()
    return [(m.role, dumps(m), now) for m in messages]


class RowStore:
    """The protocol, over the statements a store defines (``_select``, ``_insert``,
    ``_delete``, ``_acquire``, ``_release``, ``_count``) and how it runs them
    (``_call``)."""

    session_id: str

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    def _select(self, conn: Any) -> list[tuple[int, str]]:
        raise NotImplementedError

    def _insert(self, conn: Any, rows: list[Row], replace: bool = False) -> None:
        raise NotImplementedError

    def _delete(self, conn: Any) -> None:
        raise NotImplementedError

    def _acquire(self, conn: Any, owner: str) -> None:
        raise NotImplementedError

    def _release(self, conn: Any, owner: str | None) -> None:
        raise NotImplementedError

    def _count(self, conn: Any) -> int:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    async def load(self) -> list[Message]:
        rows = await self._call(self._select)
        out: list[Message] = []
        for seq, data in rows:
            try:
                out.append(loads(data, Message))  # type: ignore[arg-type]
            except Exception as exc:
                raise ValueError(
                    f"{self!r}: stored message {seq} cannot be read "
                    f"({type(exc).__name__}: {exc}); nothing was loaded"
                ) from None
        return out

    async def append(self, messages: Sequence[Message]) -> None:
        if messages:
            await self._call(self._insert, encode_rows(messages), False)

    async def clear(self) -> None:
        await self._call(self._delete)

    async def replace(self, messages: Sequence[Message]) -> None:
        """Make ``messages`` the stored transcript, in one transaction."""
        await self._call(self._insert, encode_rows(messages), True)

    async def acquire(self, owner: str) -> None:
        """Take this session id's lease for ``owner`` (see ``sessions/_lease.py``), or
        raise :class:`SessionInUseError` naming the live agent that holds it."""
        await self._call(self._acquire, owner)

    async def release(self, owner: str) -> None:
        """Give the lease back, if ``owner`` holds it."""
        await self._call(self._release, owner)

    async def release_lease(self) -> None:
        """Break this id's lease, whoever holds it: for a holder on a machine that is
        gone (one on this machine whose process ended has released it already)."""
        await self._call(self._release, None)

    async def count(self) -> int:
        """How many messages are stored (without reading them)."""
        return await self._call(self._count)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
