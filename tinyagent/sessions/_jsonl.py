"""A session in a JSON Lines file: one message per line, appended; for scripts.

A process killed mid-write can leave a torn last line: loading cuts it off (it was never
acknowledged), so the file stays appendable. A torn line is one that does not parse: a
whole last message that lacks only its newline is kept, and its line ended. One writer at a time: for several
processes, use :class:`SQLiteSession`.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import anyio.lowlevel
import anyio.to_thread

from .._util.files import replace_atomically
from ..messages import Message
from ..serde import dumps, loads
from ._lease import SessionInUseError, owner_words
from ._protocol import IN_PLACE_LIMIT

__all__ = ["JSONLSession"]

_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT
_OWNER_BYTES = 256  # the lock file's owner is padded to this, and read back stripped


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class JSONLSession:
    """``Agent(session=JSONLSession("chat.jsonl"))``; ``durable=True`` fsyncs each append."""

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = False) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"{self.path} is a directory, not a session file")
        if not self.path.parent.is_dir():
            raise ValueError(f"{self.path}: its folder {self.path.parent} does not exist")
        self.durable = durable
        self._leases: dict[str, BinaryIO] = {}  # owner -> its locked lock file
        # The file, kept open for appends on the caller's thread while a lease is held
        # (an agent runs on it): an append is then one write, not an open, a write and
        # a close. Closed when the last lease is released.
        self._held: BinaryIO | None = None

    def __repr__(self) -> str:
        return f"JSONLSession({str(self.path)!r})"

    async def load(self) -> list[Message]:
        return await anyio.to_thread.run_sync(self._load)

    async def append(self, messages: Sequence[Message]) -> None:
        """Append ``messages``, one line each.

        Without ``durable``, an append is one ``write`` into the page cache (no fsync),
        which costs less done here than a worker-thread hop (a session appends twice a
        turn), as ``SQLiteSession`` does; a durable or a large append goes to a worker
        thread. Cancelled before anything is written, as the other stores are."""
        if not messages:
            return
        data = "".join([dumps(m) + "\n" for m in messages]).encode()
        await anyio.lowlevel.checkpoint_if_cancelled()
        if self.durable or len(data) > IN_PLACE_LIMIT:
            await anyio.to_thread.run_sync(self._write, data)
        else:
            self._write_here(data)

    async def clear(self) -> None:
        await anyio.to_thread.run_sync(self._truncate, 0)

    async def acquire(self, owner: str) -> None:
        """Hold ``<file>.lock`` for ``owner`` (an advisory ``flock``: released by
        :meth:`release`, or by the process's end, however it ends), or raise
        :class:`SessionInUseError` naming the live agent that holds it."""
        # In place: an open, a non-blocking flock and a short write, none of which
        # waits (a prompt of one short reply costs about as much as a thread hop).
        await anyio.lowlevel.checkpoint_if_cancelled()
        if owner not in self._leases:
            self._leases[owner] = self._lock(owner)

    async def release(self, owner: str) -> None:
        f = self._leases.pop(owner, None)
        if f is not None:
            f.close()  # the lock goes with its descriptor
        if not self._leases:
            self._let_go()

    def _lock(self, owner: str) -> BinaryIO:
        lock_path = self.path.with_name(self.path.name + ".lock")
        # Raw calls: a buffered file would seek and ask the terminal around each step.
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        f: BinaryIO = os.fdopen(fd, "r+b", buffering=0)  # held until release()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
            f.close()
            raise SessionInUseError(
                f"{self!r} is in use by {owner_words(holder)}: wait for its run to end, or "
                "use another file"
            ) from None
        try:
            # The owner padded with spaces, written over the last one: truncating the
            # file first would cost a journaled metadata change every run.
            data = owner.encode().ljust(_OWNER_BYTES)
            os.pwrite(fd, data, 0)
            if os.fstat(fd).st_size > len(data):
                os.ftruncate(fd, len(data))
        except BaseException:
            f.close()
            raise
        return f

    async def replace(self, messages: Sequence[Message]) -> None:
        """Make ``messages`` the file's content: written beside it, then renamed over it,
        so a crash leaves the old file or the new one, never a mix."""
        data = "".join(dumps(m) + "\n" for m in messages).encode()
        self._let_go()  # the next append opens the new file
        await anyio.to_thread.run_sync(replace_atomically, self.path, [data])

    def _load(self) -> list[Message]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        if end < len(data):
            tail = data[end:]
            if self._is_message(tail):
                # A whole message that lacks only its newline (an editor, a copy): keep
                # it, and end its line so the next append starts a line of its own.
                self._write(b"\n")
                data, end = data + b"\n", len(data) + 1
            else:  # a torn last line (no strict prefix of a line parses): never
                self._truncate(end)  # acknowledged, so it is cut off
        out: list[Message] = []
        for number, line in enumerate(data[:end].splitlines(), 1):
            try:
                out.append(loads(line, Message))  # type: ignore[arg-type]
            except Exception as exc:
                raise ValueError(
                    f"{self!r}: line {number} cannot be read ({type(exc).__name__}: {exc}); "
                    "nothing was loaded"
                ) from None
        return out

    @staticmethod
    def _is_message(line: bytes) -> bool:
        try:
            loads(line, Message)  # type: ignore[arg-type]
        except Exception:
            return False
        return True

    def _write(self, data: bytes) -> None:
        fd = os.open(self.path, _APPEND, 0o644)
        try:
            _write_all(fd, data)
            if self.durable:
                os.fsync(fd)
        finally:
            os.close(fd)

    def _write_here(self, data: bytes) -> None:
        """``_write`` without fsync, on the caller's thread: through the held file while
        a lease is held. A held file that was deleted or renamed over since (no name is
        left to it) is let go, and the one at the path opened."""
        if not self._leases:
            self._write(data)
            return
        held = self._held
        if held is not None and os.fstat(held.fileno()).st_nlink == 0:
            self._let_go()
            held = None
        if held is None:
            held = self._held = os.fdopen(os.open(self.path, _APPEND, 0o644), "ab", buffering=0)
        _write_all(held.fileno(), data)

    def _let_go(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None

    def _truncate(self, size: int) -> None:
        try:
            os.truncate(self.path, size)
        except FileNotFoundError:
            if size:
                raise
