"""``run_batch``: every input item through one model call (or one agent), exactly once
in the output, at the pace one gate allows, surviving crashes and signals.

The tasks of a run, in one task group: a feeder reads the input as a stream and hands
items to ``concurrency`` workers; each worker runs its item (its attempts all pass the
shared :class:`BatchGate`) and hands the line to the one writer, which appends it to
the output (the journal). The first Ctrl-C or SIGTERM stops the feeder; in-flight items
get ``grace`` seconds to finish, then are cancelled (they are not written, so a resumed
run does them again); a second signal cancels at once.
"""

from __future__ import annotations

import importlib
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.lowlevel
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._errors import OutputError, OutputValidationError, TinyAgentError
from .._messages import AssistantMessage, Model, StopReason, as_model
from .._stream import complete
from ..serde import unstructure
from ..transports import retry_delay
from ._formats import BadLine, BatchItem, Format, error_line, parse_line, result_line
from ._gate import BatchGate
from ._journal import Journal, read_lines, scan_input
from ._report import BatchStats, BatchSummary, progress_task, summary_of_stats

__all__ = ["AgentFactory", "run_batch", "run_batch_sync"]

AgentFactory = Callable[[], Any]
Engine = Literal["local", "ray"]


def load_factory(spec: str) -> AgentFactory:
    """``module:factory`` as the callable it names."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise TinyAgentError(f"--agent {spec!r}: write it as module:factory")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise TinyAgentError(f"--agent {spec!r}: {exc}") from None
    if not callable(fn):
        raise TinyAgentError(f"--agent {spec!r} is not callable")
    return fn  # type: ignore[no-any-return]


class _Run:
    """One batch run's shared state: the model, options, gate, stats and channels."""

    def __init__(
        self,
        model: Model,
        fmt: Format,
        gate: BatchGate,
        stats: BatchStats,
        options: dict[str, Any],
        max_attempts: int,
        agent: AgentFactory | None,
    ) -> None:
        self.model = model
        self.format = fmt
        self.gate = gate
        self.stats = stats
        self.options = options
        self.max_attempts = max_attempts
        self.agent = agent

    async def item(self, item: BatchItem) -> bytes:
        """Run one item to its output line (a failure is a line too), counted."""
        line, outcome = await self.execute(item)
        self.count(outcome)
        return line

    async def execute(self, item: BatchItem) -> tuple[bytes, Outcome]:
        """Run one item: its output line, and what the stats should count of it."""
        started = anyio.current_time()
        attempts = 0
        transcript: list[Any] | None = None
        answer: Answer | None = None
        try:
            while True:
                attempts += 1
                if attempts == 2:
                    self.stats.retrying += 1
                if self.agent is not None:
                    reply, transcript, answer = await self._agent(item)
                else:
                    options = {**self.options, **item.options}
                    reply = await complete(self.model, item.context, **options)
                if reply.stop_reason is not StopReason.ERROR:
                    break
                delay = retry_delay(reply.failure, attempts - 1, self.max_attempts - 1)
                if delay is None:
                    break
                # A rate limit pauses every worker through the gate; other failures
                # back off here, in this item's worker only.
                await anyio.sleep(0 if self.gate.paused_for > 0 else delay)
        finally:
            if attempts >= 2:
                self.stats.retrying -= 1
        outcome = _outcome(reply, anyio.current_time() - started)
        if answer is not None and answer[1] is not None and outcome[0] is None:
            outcome = ("output_invalid", *outcome[1:])
        return result_line(
            self.format,
            item,
            reply,
            attempts=attempts,
            duration=anyio.current_time() - started,
            transcript=transcript,
            answer=answer,
        ), outcome

    async def _agent(self, item: BatchItem) -> tuple[AssistantMessage, list[Any], Answer | None]:
        """Run the item on a fresh agent: its last reply, the messages it added, and its
        structured answer (or why there is none) when the agent has an output type."""
        agent = self.agent() if self.agent is not None else None
        if agent is None or not hasattr(agent, "prompt"):
            raise TinyAgentError("the --agent factory must return a tinyagent.Agent")
        if agent.model is None:
            agent.set_model(self.model)
        agent.set_stream_options(**self.options, **item.options)
        if item.context.system_prompt:
            agent.set_system_prompt(item.context.system_prompt)
        prompts = list(item.context.messages)
        answer: Answer | None = None
        if agent.output_type is not None:
            start = len(agent.messages)
            try:
                value = await agent.prompt_output(prompts)
                answer = (unstructure(value), None)
            except OutputValidationError as exc:
                answer = (None, str(exc))
            except OutputError:
                answer = None  # the run failed: its last reply says how
            new = list(agent.messages[start:])
        else:
            new = await agent.prompt(prompts)
        replies = [m for m in new if isinstance(m, AssistantMessage)]
        if not replies:  # pragma: no cover - a run always adds a reply
            raise TinyAgentError("the agent added no reply")
        return replies[-1], new, answer

    def count(self, outcome: Outcome) -> None:
        s = self.stats
        error, tokens_in, tokens_out, cost, latency = outcome
        s.input_tokens += tokens_in
        s.output_tokens += tokens_out
        s.cost += cost
        if error is not None:
            s.failed += 1
            s.errors[error] += 1
        else:
            s.done += 1
            s.latencies.append(latency)


Answer = tuple[Any, str | None]
"""A structured answer as JSON data, or None and why the answers did not validate."""

Outcome = tuple[str | None, int, int, float, float]
"""(error kind or None, tokens in, tokens out, cost, seconds): plain data, so that it
crosses to the driver from a Ray actor."""


def _outcome(reply: AssistantMessage, latency: float) -> Outcome:
    u = reply.usage
    error = None
    if reply.stop_reason in (StopReason.ERROR, StopReason.ABORTED):
        error = reply.failure.kind.value if reply.failure else "unknown"
    cost = u.cost.total if u.cost is not None else 0.0
    return error, u.input + u.cache_read + u.cache_write, u.output, cost, latency


async def _feed(
    path: Path, run: _Run, done: set[str], items: MemoryObjectSendStream[BatchItem],
    lines: MemoryObjectSendStream[tuple[str, bytes]],
) -> None:  # fmt: skip
    async with items:
        for number, text in read_lines(path):
            await anyio.lowlevel.checkpoint()  # skipping a long done prefix stays cancellable
            try:
                item = parse_line(text, number, run.format)
            except BadLine as exc:
                item_id = exc.item_id or f"line:{number}"
                if item_id not in done:
                    run.stats.failed += 1
                    run.stats.errors["bad_input"] += 1
                    line = error_line(run.format, item_id, "bad_input", str(exc))
                    await lines.send((item_id, line))
                continue
            if item.id not in done:
                await items.send(item)


Executor = Callable[[BatchItem], Awaitable[tuple[bytes, Outcome]]]


async def _work(
    run: _Run,
    execute: Executor,
    items: MemoryObjectReceiveStream[BatchItem],
    lines: MemoryObjectSendStream[tuple[str, bytes]],
) -> None:
    async with items, lines:
        async for item in items:
            run.stats.in_flight += 1
            try:
                line, outcome = await execute(item)
            finally:
                run.stats.in_flight -= 1
            run.count(outcome)
            await lines.send((item.id, line))


async def _write(
    journal: Journal, lines: MemoryObjectReceiveStream[tuple[str, bytes]], dedupe: bool
) -> None:
    # Only a distributed engine can deliver an id twice (a result re-sent after an actor
    # restart): locally each item runs once, and the set is not kept.
    written: set[str] | None = set() if dedupe else None
    async with lines:
        while True:
            with anyio.move_on_after(1.0):
                try:
                    item_id, line = await lines.receive()
                except anyio.EndOfStream:
                    return
                if written is None:
                    await journal.write(line)
                elif item_id not in written:  # each id once, whatever arrives twice
                    written.add(item_id)
                    await journal.write(line)
                continue
            await journal.sync()  # a quiet second: make what was written durable


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
    ``ray_actors`` Ray actors (the ``ray`` extra), the limits split between them.
    """
    if engine not in ("local", "ray"):
        raise ValueError(f"engine must be 'local' or 'ray', got {engine!r}")
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts!r}")
    factory = load_factory(agent) if isinstance(agent, str) else agent
    in_path, out_path = Path(input), Path(output)
    scan = await anyio.to_thread.run_sync(scan_input, in_path, format)
    if factory is not None and scan.format == "openai-batch":
        raise TinyAgentError(
            "--agent runs tinyagent-format items (an OpenAI Batch body is one call)"
        )
    journal = await anyio.to_thread.run_sync(
        lambda: Journal(out_path, scan, retry_failed=retry_failed)
    )
    gate = BatchGate(concurrency=concurrency, rpm=rpm, tpm=tpm, adaptive=adaptive)
    stats = BatchStats(total=scan.items, skipped=len(journal.done))
    options: dict[str, Any] = {"rate_gate": gate, "max_retries": 0, **(stream_options or {})}
    run = _Run(as_model(model), scan.format, gate, stats, options, max_attempts, factory)
    execute: Executor = run.execute
    pool = None
    if engine == "ray":
        from ._ray import RayPool

        actor_options = {"max_retries": 0, **(stream_options or {})}
        pool = RayPool(
            run.model, scan.format, actor_options, max_attempts, factory,
            concurrency=concurrency, rpm=rpm, tpm=tpm, adaptive=adaptive, actors=ray_actors,
        )  # fmt: skip
        await anyio.to_thread.run_sync(pool.start)
        execute = pool.execute
    interrupted = False
    show = progress if progress is not None else os.isatty(2)
    try:
        async with anyio.create_task_group() as tg:
            # No buffer: an item leaves the input only when a worker takes it, so a
            # signal stops the feed with nothing taken and left unstarted.
            items_send, items_receive = anyio.create_memory_object_stream[BatchItem](0)
            lines_send, lines_receive = anyio.create_memory_object_stream[tuple[str, bytes]](
                concurrency
            )
            tg.start_soon(_write, journal, lines_receive, pool is not None)
            work = anyio.CancelScope()
            feed = anyio.CancelScope()

            async def feeder() -> None:
                async with lines_send.clone() as lines:
                    with feed:
                        await _feed(in_path, run, journal.done, items_send, lines)
                await items_send.aclose()  # workers finish what they hold, then stop

            async def workers() -> None:
                async with lines_send:
                    with work:
                        async with anyio.create_task_group() as crew:
                            for _ in range(concurrency):
                                crew.start_soon(
                                    _work, run, execute, items_receive.clone(), lines_send.clone()
                                )
                    items_receive.close()

            async def watch_signals() -> None:
                nonlocal interrupted
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        if interrupted:
                            work.cancel()  # a second signal: cancel at once
                            return
                        interrupted = True
                        feed.cancel()
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
            tg.start_soon(feeder)
            await workers()
            side.cancel()
    finally:
        await journal.close()
        if pool is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(pool.stop)
    finished = stats.done + stats.failed + stats.skipped
    return summary_of_stats(stats, interrupted or finished < stats.total)


def run_batch_sync(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    **options: Any,
) -> BatchSummary:
    """:func:`run_batch` from a plain script (on trio; ``backend="asyncio"`` for asyncio)."""
    backend = options.pop("backend", "trio")
    return anyio.run(lambda: run_batch(input, output, **options), backend=backend)
