"""The output file is the journal: what is written there is done, and only that.

One writer appends one line per finished item and flushes it at once; an fsync follows
at least once a second (and at the end), so a killed process loses at most the items in
flight and the last second's lines of a machine that lost power. On start, a torn last
line (a write cut by a kill) is cut off, the ids already written are skipped, and a
sidecar (``OUTPUT.meta.json``) that records the input's hash makes a changed input a
clear error instead of a silently mixed output. Each id appears exactly once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import anyio
import anyio.to_thread

from .._util.files import replace_atomically
from .._util.json import dumps, loads
from ..messages import Spend, TinyAgentError, Usage
from ._formats import Format, line_id, row_failed
from ._ids import IdTable
from ._spend import budget_stopped, row_spend, spend_from_json, spend_to_json

__all__ = ["InputScan", "Journal", "read_lines", "scan_input", "summarise_rows"]

SIDECAR_VERSION = 1
FSYNC_EVERY = 1.0  # seconds


BOM = b"\xef\xbb\xbf"


def read_lines(path: Path) -> Generator[tuple[int, bytes], None, None]:
    """The file's non-blank lines with their numbers, read as a stream (a UTF-8 byte
    order mark before the first is not part of it: editors on Windows write one)."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            if number == 1 and line.startswith(BOM):
                line = line[len(BOM) :]
            if line.strip():
                yield number, line


class InputScan:
    """What one streaming pass over the input learned: its hash, its item count, its
    format (given, or told by the first line), and its ids (as fingerprints, see
    ``_ids.py``; each flagged once done)."""

    def __init__(
        self,
        sha256: str,
        items: int,
        fmt: Format,
        unnamed: dict[int, str] | None = None,
        ids: IdTable | None = None,
    ) -> None:
        self.sha256 = sha256
        self.items = items
        self.format = fmt
        self._unnamed = unnamed or {}
        self.ids = ids if ids is not None else IdTable()

    def id_of_unnamed(self, number: int) -> str:
        """The id a line without one is reported under: ``line:N``, unless a real id is
        that already (then ``line:N~k``): fixed by the input, so the same on resume."""
        return self._unnamed.get(number, f"line:{number}")


def detect_format(path: Path) -> Format:
    for _number, line in read_lines(path):
        try:
            data = loads(line)
        except ValueError:
            break
        return "openai-batch" if isinstance(data, dict) and "custom_id" in data else "tinyagent"
    return "tinyagent"


def _line_ids(path: Path, fmt: Format) -> Iterator[tuple[int, str | None]]:
    """Each non-blank line's number and id (None: it has none, or is not JSON)."""
    for number, line in read_lines(path):
        try:
            yield number, line_id(loads(line), fmt)
        except ValueError:
            yield number, None


class _Collision(Exception):
    """Two different ids share a fingerprint under this salt: scan again with another."""


def scan_input(path: Path, fmt: Format | None, *, bits: int = 62) -> InputScan:
    """Hash the input and refuse a duplicate id before any request is sent (a line that
    does not parse is left for the run to report, under ``line:N`` if it has no id).
    Held: a fingerprint per id, never the ids (``bits`` below 62 only in tests)."""
    fmt = fmt or detect_format(path)
    expected = _estimate_lines(path)
    for salt in range(100):
        try:
            return _scan(path, fmt, IdTable(salt, bits, expected))
        except _Collision:
            continue
    raise TinyAgentError(f"{path}: no salt gives its ids distinct fingerprints")  # pragma: no cover


def _estimate_lines(path: Path) -> int:
    """About how many lines the file has: its size over the mean length of the lines in
    three samples (its start, middle and end)."""
    sample = 1 << 16
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size <= 3 * sample:
            return f.read().count(b"\n") + 1
        lines = length = 0
        for at in (0, size // 2, size - sample):
            f.seek(at)
            chunk = f.read(sample)
            if at:
                chunk = chunk[chunk.find(b"\n") + 1 :]  # from the first whole line
            chunk = chunk[: chunk.rfind(b"\n") + 1]
            lines += chunk.count(b"\n")
            length += len(chunk)
    return size * lines // max(length, 1) + 1


def _scan(path: Path, fmt: Format, ids: IdTable) -> InputScan:
    digest = hashlib.sha256()
    unnamed: list[int] = []  # lines with no id of their own (few: they are errors)
    count = 0
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            digest.update(line)
            if number == 1 and line.startswith(BOM):
                line = line[len(BOM) :]
            if not line.strip():
                continue
            count += 1
            try:
                item_id = line_id(loads(line), fmt)
            except ValueError:
                item_id = None
            if item_id is None:
                unnamed.append(number)
                continue
            if not ids.add(item_id):
                if _earlier_line_with(path, fmt, ids, item_id, number) is None:
                    raise _Collision
                raise TinyAgentError(
                    f"{path}: line {number}: the id {item_id!r} appears more than once; "
                    "ids must be unique (nothing was sent)"
                )
    names: dict[int, str] = {}
    for number in unnamed:
        name, k = f"line:{number}", 1
        while name in ids:
            if _earlier_line_with(path, fmt, ids, name, number=None) is None:
                raise _Collision  # not a real id: another id has its fingerprint
            name, k = f"line:{number}~{k}", k + 1  # a real item is called that
        if not ids.add(name):
            raise _Collision  # another unnamed line's name has its fingerprint
        if name != f"line:{number}":
            names[number] = name
    return InputScan(digest.hexdigest(), count, fmt, names, ids)


def _earlier_line_with(
    path: Path, fmt: Format, ids: IdTable, item_id: str, number: int | None
) -> int | None:
    """The number of a line before ``number`` (None: anywhere) whose id is ``item_id``
    itself, found among those with its fingerprint; None if there is none, which makes
    a shared fingerprint a collision. Read only when a fingerprint repeats: the same id
    twice (an error), or, about once in 10^12 inputs, two ids with one fingerprint."""
    fp = ids.fingerprint(item_id)
    for line_number, other in _line_ids(path, fmt):
        if number is not None and line_number >= number:
            break
        if other is not None and ids.fingerprint(other) == fp and other == item_id:
            return line_number
    return None


class Journal:
    """The output file, opened for a run: the ids it holds are flagged done in the
    input's table (``ids``, to skip), then :meth:`write`.

    ``spent`` is what the file records as spent (its lines, and lines dropped to be run
    again, whose spend the sidecar carries), each line's usage priced by ``price``
    where the line has no cost of its own; without ``price`` (no budget), only the
    carried spend is read."""

    def __init__(
        self,
        path: Path,
        scan: InputScan,
        *,
        retry_failed: bool = False,
        price: Callable[[Usage], float] | None = None,
    ) -> None:
        self.path = path
        self.sidecar = path.with_name(path.name + ".meta.json")
        self.format = scan.format
        self.ids = scan.ids  # the input's ids: those in the file are flagged done
        self.failed_before = 0
        # Only a budgeted run reads what the kept lines spent: without one, a resume of a
        # long output does not price every line it skips.
        self._accounting = price is not None
        self._price = price or (lambda _usage: 0.0)
        self._meta: dict[str, Any] = {}
        self.spent = Spend()
        # One run per output, before anything is read or cut: a second run would send
        # every request again (paid twice) and write every id twice.
        self._lock = _lock_output(path)
        try:
            self._check_sidecar(scan)
            if path.exists():
                self._resume(retry_failed)
            self._file: BinaryIO = open(path, "ab")  # noqa: SIM115 - closed by close()
        except BaseException:
            self._lock.close()
            raise
        self._written_since_sync = False
        self._last_sync = 0.0

    def _check_sidecar(self, scan: InputScan) -> None:
        meta = {"version": SIDECAR_VERSION, "input_sha256": scan.sha256, "format": scan.format}
        self._meta = meta
        if self.sidecar.exists():
            try:
                old = loads(self.sidecar.read_bytes())
            except ValueError:
                raise TinyAgentError(f"{self.sidecar}: not a batch sidecar (not JSON)") from None
            if not isinstance(old, dict):
                raise TinyAgentError(f"{self.sidecar}: not a batch sidecar (not an object)")
            if old.get("input_sha256") != scan.sha256:
                raise TinyAgentError(
                    f"{self.path} was written for a different input (its sha256 was "
                    f"{old.get('input_sha256')}, the input's is {scan.sha256}): the input "
                    "changed since; use a new output file, or delete this one to start over"
                )
            if old.get("format") != scan.format:
                raise TinyAgentError(
                    f"{self.path} holds {old.get('format')} lines; this run is {scan.format}"
                )
            self._meta = old
            self.spent = spend_from_json(old.get("carried"))  # of lines dropped to run again
            return
        if self.path.exists() and self.path.stat().st_size > 0:
            raise TinyAgentError(
                f"{self.path} exists without its sidecar {self.sidecar.name}: it is not a "
                "batch output this run can resume; use a new output file"
            )
        self.sidecar.write_bytes(dumps(meta))

    def _write_meta(self, **changes: Any) -> None:
        self._meta = {**self._meta, **changes}
        replace_atomically(self.sidecar, [dumps(self._meta)])

    def note_budget(self, caps: Mapping[str, float], spent: Spend, stopped: bool) -> None:
        """Record the run's budget: its caps, the file's spend, and whether it stopped
        the run (``batch status`` shows it)."""
        budget = {"caps": dict(caps), "spent": spend_to_json(spent), "stopped": stopped}
        self._write_meta(budget=budget)

    def _resume(self, retry_failed: bool) -> None:
        data_end = 0
        dropped: set[int] = set()  # numbers of the lines to drop (few: failures)
        carried = Spend()  # the spend of the lines dropped now
        with open(self.path, "rb") as f:
            for number, line in enumerate(f):
                if not line.endswith(b"\n"):
                    break  # a torn last line: its item is not done
                data_end += len(line)
                try:
                    row = loads(line)
                except ValueError:
                    raise TinyAgentError(
                        f"{self.path}: a line before the end is not JSON; the file was edited"
                    ) from None
                item_id = line_id(row, self.format)
                if item_id is None:
                    raise TinyAgentError(f"{self.path}: a line has no id; the file was edited")
                failed = row_failed(row, self.format)
                if failed and (retry_failed or budget_stopped(row, self.format)):
                    # Dropped to run again: what it spent is carried in the sidecar, for
                    # any later budgeted run (few lines: they are failures).
                    dropped.add(number)
                    carried += row_spend(row, self.format, self._price)
                    continue
                if self.ids.mark_done(item_id) is None:
                    raise TinyAgentError(
                        f"{self.path}: a line's id {item_id!r} is not one of the input's; "
                        "the file was edited"
                    )
                if self._accounting:
                    self.spent += row_spend(row, self.format, self._price)
                self.failed_before += failed
        if dropped:
            # The sidecar first: a crash between the two writes counts those lines
            # twice (spends less), never not at all (spends more).
            self.spent += carried
            self._write_meta(
                carried=spend_to_json(spend_from_json(self._meta.get("carried")) + carried)
            )
            replace_atomically(self.path, _lines_but(self.path, dropped, data_end))
        elif os.path.getsize(self.path) > data_end:
            os.truncate(self.path, data_end)

    async def write_lines(self, lines: list[bytes]) -> None:
        """Append finished items' lines (one writer: callers are serialised by the run's
        writer task), flushed now in one write and fsynced within a second."""
        if not lines:
            return
        self._file.write(b"".join(lines))
        self._file.flush()
        self._written_since_sync = True
        now = anyio.current_time()
        if now - self._last_sync >= FSYNC_EVERY:
            await self.sync()

    async def sync(self) -> None:
        if self._written_since_sync:
            self._written_since_sync = False
            self._last_sync = anyio.current_time()
            await anyio.to_thread.run_sync(os.fsync, self._file.fileno())

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            await self.sync()
        self._file.close()
        self._lock.close()  # the lock goes with its descriptor (and with the process)


def _lines_but(path: Path, dropped: set[int], end: int) -> Iterator[bytes]:
    """The whole lines of the file's first ``end`` bytes, but those numbered ``dropped``."""
    size = 0
    with open(path, "rb") as f:
        for number, line in enumerate(f):
            size += len(line)
            if size > end:
                return
            if number not in dropped:
                yield line


def _lock_output(path: Path) -> BinaryIO:
    """Hold ``<output>.lock`` for this run (an advisory ``flock``, released when the file
    is closed or the process dies, even by SIGKILL), or refuse with who holds it."""
    lock_path = path.with_name(path.name + ".lock")
    f: BinaryIO = open(lock_path, "a+b")  # noqa: SIM115 - the run holds it open
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().decode("ascii", "replace").strip() or "unknown"
        f.close()
        raise TinyAgentError(
            f"{path} is being written by another batch run (pid {holder}); wait for it to "
            "end, or write to another output file"
        ) from None
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()).encode())
    f.flush()
    return f


def summarise_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The output's complete lines, as data (a torn last line is left out)."""
    with open(path, "rb") as f:
        for line in f:
            if line.endswith(b"\n") and line.strip():
                try:
                    yield loads(line)
                except ValueError:
                    continue
