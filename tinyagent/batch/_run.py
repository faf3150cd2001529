"""``run_batch``: every input item through one model call (or one agent), exactly once
in the output, at the pace one gate allows, surviving crashes and signals.

The tasks of a run, in one task group: ``concurrency`` workers each take the input's
next item when free (the input is read as a stream, a line at a time, by whichever
worker takes it), run it (its attempts all pass the shared :class:`BatchGate`) and hand
the line to the one writer, which appends it to the output (the journal). The first
Ctrl-C or SIGTERM stops the feed; in-flight items get ``grace`` seconds to finish, then
are cancelled (they are not written, so a resumed run does them again); a second signal
cancels at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.lowlevel
import anyio.to_thread
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._util.log import logger
from ..budget import Budget
from ..catalogue import as_model
from ..messages import Model, Spend, TinyAgentError, Usage
from ._formats import BadLine, BatchItem, Format, error_line, parse_line
from ._gate import BatchGate
from ._ids import IdTable
from ._item import AgentFactory, ItemRunner, Outcome, load_factory
from ._journal import Journal, read_lines, scan_input
from ._report import BatchStats, BatchSummary, progress_task, summary_of_stats

__all__ = ["run_batch", "run_batch_sync"]

Engine = Literal["local", "ray"]


class _Pause:
    """What :meth:`_Feed.take` returns after a long run of skipped lines."""


PAUSE = _Pause()


class _Feed:
    """The input as the workers' queue: a free worker takes the next item itself, so
    there is no feeder task and no channel hand-off per item. An item leaves the input
    only when a worker takes it, so stopping the feed (a signal, the budget) leaves
    nothing taken and not started."""

    def __init__(
        self, path: Path, run: ItemRunner, ids: IdTable, unnamed: Callable[[int], str]
    ) -> None:
        self._lines = read_lines(path)
        self._run = run
        self._ids = ids
        self._unnamed = unnamed
        self._skip = ids.is_done if ids.done_count else None  # a resumed run skips done ids
        self.stopped = False

    def stop(self) -> None:
        """Take no more items (those taken finish)."""
        self.stopped = True

    def close(self) -> None:
        self.stopped = True
        self._lines.close()

    def take(self) -> BatchItem | tuple[str, bytes] | _Pause | None:
        """The next item to run; a bad line's error line (its id, the line) to write;
        :data:`PAUSE` after 1024 lines skipped in a row (a resumed run's done prefix:
        the worker yields, so a long skip stays cancellable); None once the input, or
        the feed, has ended."""
        run = self._run
        for _ in range(1024):
            if self.stopped:
                return None
            got = next(self._lines, None)
            if got is None:
                self.stopped = True
                return None
            number, text = got
            try:
                item = parse_line(text, number, run.format, self._skip)
            except BadLine as exc:
                item_id = exc.item_id or self._unnamed(number)
                if self._ids.is_done(item_id):
                    continue
                run.stats.failed += 1
                run.stats.errors["bad_input"] += 1
                return item_id, error_line(run.format, item_id, "bad_input", str(exc))
            if item is not None:  # not skipped: not done (none was, or skip said so)
                return item
        return PAUSE


Executor = Callable[[BatchItem], Awaitable[tuple[bytes, Outcome]]]


async def _work(
    run: ItemRunner,
    execute: Executor,
    feed: _Feed,
    lines: MemoryObjectSendStream[tuple[str, bytes]],
    refused: Callable[[], None],
) -> None:
    async with lines:
        while True:
            item = feed.take()
            if item is None:
                return
            if item is PAUSE:
                await anyio.lowlevel.checkpoint()
                continue
            if isinstance(item, tuple):  # a bad line: its error line goes out
                await lines.send(item)
                continue
            assert isinstance(item, BatchItem)
            run.stats.in_flight += 1
            try:
                line, outcome = await execute(item)
            finally:
                run.stats.in_flight -= 1
            if outcome[0] == "budget":
                refused()  # the next call does not fit: take no more items
            if not line:  # refused unsent: left for a resumed run
                continue
            run.count(outcome)
            try:  # the buffer holds a line per worker: room, unless the writer lags
                lines.send_nowait((item.id, line))
            except anyio.WouldBlock:
                await lines.send((item.id, line))


async def _write(
    journal: Journal, lines: MemoryObjectReceiveStream[tuple[str, bytes]], dedupe: bool
) -> None:
    # Only a distributed engine can deliver an id twice (a result re-sent after an actor
    # restart): locally each item runs once. The input's table flags each id written.
    written = journal.ids if dedupe else None
    async with lines:
        while True:
            first = None
            with anyio.move_on_after(1.0):
                try:
                    first = await lines.receive()
                except anyio.EndOfStream:
                    return
            if first is None:
                await journal.sync()  # a quiet second: make what was written durable
                continue
            # Every line already waiting goes with it, in one write and one flush.
            burst = [first]
            with contextlib.suppress(anyio.WouldBlock, anyio.EndOfStream):
                while True:
                    burst.append(lines.receive_nowait())
            if written is not None:  # each id once, whatever arrives twice
                burst = [(i, line) for i, line in burst if written.mark_done(i) is not False]
            await journal.write_lines([line for _, line in burst])


async def run_batch(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    model: Model | str,
    format: Format | None = None,
    concurrency: int = 64,
    rpm: int | None = None,
    tpm: int | None = None,
    adaptive: bool = False,
    agent: AgentFactory | str | None = None,
    engine: Engine = "local",
    retry_failed: bool = False,
    max_attempts: int = 3,
    stream_options: Mapping[str, Any] | None = None,
    progress: bool | None = None,
    grace: float = 10.0,
    handle_signals: bool = True,
    ray_actors: int = 2,
    ray_limits: Literal["shared", "split"] = "shared",
    budget: Budget | None = None,
) -> BatchSummary:
    """Run every item of ``input`` (JSON Lines, ``format`` ``tinyagent`` or
    ``openai-batch``; read from the first line if None) and append its line to
    ``output``; running it again resumes. Returns the summary.

    ``concurrency``, ``rpm`` and ``tpm`` bound the whole batch (``adaptive``: halve the
    concurrency on a 429, grow it back slowly); ``agent`` (a callable returning an
    :class:`Agent`, or ``"module:factory"``) runs a whole agent per item instead of one
    call; ``retry_failed`` runs again the ids whose line is an error; ``max_attempts``
    is per item. ``progress``: a live line on a terminal, else a log line every 5 s
    (None: on when stderr is a terminal). ``engine="ray"`` runs the items on
    ``ray_actors`` Ray actors (the ``ray`` extra), the limits held by one limiter actor
    (``ray_limits="split"``: a share for each actor).

    ``budget`` caps what the whole output file may spend (:class:`Budget`): every call
    reserves its worst case first; when the next item's does not fit, the feed stops,
    the items in flight finish, and the summary says ``stopped_by_budget``. A resumed
    run counts what the output already records, so the cap holds across runs.
    """
    if budget is not None and not isinstance(budget, Budget):
        raise TypeError(f"budget must be a tinyagent.budget.Budget, got {budget!r}")
    if engine not in ("local", "ray"):
        raise ValueError(f"engine must be 'local' or 'ray', got {engine!r}")
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts!r}")
    # Every limit checked before a file is touched: a refused run leaves nothing behind.
    gate = BatchGate(concurrency=concurrency, rpm=rpm, tpm=tpm, adaptive=adaptive)
    factory = load_factory(agent) if isinstance(agent, str) else agent
    the_model = as_model(model)
    price = None
    if budget is not None:
        budget.check_prices(the_model)  # a dollar cap with no price: refused, nothing sent
        given = budget.prices_for(the_model)
        if given is not None and given is not the_model.cost:
            # Prices given for the budget price the output lines and the summary too.
            the_model = attrs.evolve(the_model, cost=given)
        caps = budget

        def price(usage: Usage) -> float:
            return caps.spend_of(the_model, usage).cost

    in_path, out_path = Path(input), Path(output)
    scan = await anyio.to_thread.run_sync(scan_input, in_path, format)
    if factory is not None and scan.format == "openai-batch":
        raise TinyAgentError(
            "--agent runs tinyagent-format items (an OpenAI Batch body is one call)"
        )
    journal = await anyio.to_thread.run_sync(
        lambda: Journal(out_path, scan, retry_failed=retry_failed, price=price)
    )
    # The budget covers the output as a whole: this run's account starts from what the
    # file records as spent.
    account = budget.fresh(spent=journal.spent) if budget is not None else None
    stats = BatchStats(total=scan.items, skipped=journal.ids.done_count)
    options: dict[str, Any] = {"rate_gate": gate, "max_retries": 0, **(stream_options or {})}
    run = ItemRunner(the_model, scan.format, gate, stats, options, max_attempts, factory, account)
    execute: Executor = run.execute
    pool = None
    if engine == "ray":
        from ._ray import RayPool

        actor_options = {"max_retries": 0, **(stream_options or {})}
        pool = RayPool(
            run.model, scan.format, actor_options, max_attempts, factory,
            concurrency=concurrency, rpm=rpm, tpm=tpm, adaptive=adaptive, actors=ray_actors,
            limits=ray_limits, budget=account,
        )  # fmt: skip
        await anyio.to_thread.run_sync(pool.start)
        execute = pool.execute
    if account is not None:
        stats.budget = _budget_view(account, journal.spent, stats, pool is not None)
    interrupted = False
    stopped_by_budget = False
    show = progress if progress is not None else os.isatty(2)
    feed = _Feed(in_path, run, journal.ids, scan.id_of_unnamed)
    try:
        async with anyio.create_task_group() as tg:
            lines_send, lines_receive = anyio.create_memory_object_stream[tuple[str, bytes]](
                concurrency
            )
            tg.start_soon(_write, journal, lines_receive, pool is not None)
            work = anyio.CancelScope()

            def refused() -> None:
                nonlocal stopped_by_budget
                if not stopped_by_budget:
                    stopped_by_budget = True
                    logger.info("batch: stopped by its budget; the items in flight finish")
                feed.stop()  # the next item does not fit: take no more

            async def workers() -> None:
                async with lines_send:
                    with work:
                        async with anyio.create_task_group() as crew:
                            for _ in range(concurrency):
                                crew.start_soon(
                                    _work, run, execute, feed, lines_send.clone(), refused
                                )

            async def watch_signals() -> None:
                nonlocal interrupted
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        if interrupted:
                            work.cancel()  # a second signal: cancel at once
                            return
                        interrupted = True
                        feed.stop()
                        work.deadline = anyio.current_time() + grace

            side = anyio.CancelScope()

            async def helpers() -> None:
                with side:
                    async with anyio.create_task_group() as aux:
                        if handle_signals and threading.current_thread() is threading.main_thread():
                            aux.start_soon(watch_signals)
                        if show:
                            aux.start_soon(progress_task, stats, gate)

            tg.start_soon(helpers)
            await workers()
            side.cancel()
        spent = None
        if account is not None:
            spent = account.spent
            if pool is not None:
                spent = await anyio.to_thread.run_sync(pool.budget_spent)
            limits, total = account.caps, spent
            await anyio.to_thread.run_sync(
                lambda: journal.note_budget(limits, total, stopped_by_budget)
            )
    finally:
        feed.close()
        await journal.close()
        if pool is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(pool.stop)
    finished = stats.done + stats.failed + stats.skipped
    cut_short = interrupted or (finished < stats.total and not stopped_by_budget)
    summary = attrs.evolve(
        summary_of_stats(stats, cut_short), left=stats.total - finished, output=str(out_path)
    )
    if account is not None and spent is not None:
        summary = attrs.evolve(
            summary,
            budget=account.fresh(spent=spent).describe() + " spent",
            stopped_by_budget=stopped_by_budget,
        )
    return summary


def _budget_view(
    account: Budget, base: Spend, stats: BatchStats, remote: bool
) -> Callable[[], str]:
    """The progress line's "spent of budget": the account itself, or (its account
    held by the Ray limiter) what the file recorded plus what this run's lines spent."""
    if not remote:
        return account.describe

    def view() -> str:
        spent = base + Spend(stats.cost, stats.input_tokens, stats.output_tokens, 0)
        return account.fresh(spent=spent).describe()

    return view


def run_batch_sync(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    **options: Any,
) -> BatchSummary:
    """:func:`run_batch` from a plain script (on trio; ``backend="asyncio"`` for asyncio)."""
    backend = options.pop("backend", "trio")
    return anyio.run(lambda: run_batch(input, output, **options), backend=backend)
