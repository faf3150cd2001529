"""The Ray engine: the same batch, its items run by a pool of Ray actors.

The driver keeps everything that must be single: the resume scan, the input feed, the
one writer (which also drops any id already written, should a result arrive twice).
Each actor runs tinyagent on its own asyncio loop with a fraction of a CPU (whole-CPU
actors starve Ray's own tasks on a small machine, and it hangs). The batch's limits are
held by one limiter actor (``ray_limits="shared"``, the default): every attempt of
every actor passes its gate, so the limits hold for the whole batch and a 429's pause
reaches every actor. ``ray_limits="split"`` gives each actor its own gate with a share
of the limits instead (no round trip per attempt; a 429 pauses only that actor).

A budget is always held by the limiter actor, whatever ``ray_limits`` says: a cap
split in shares would stop the batch while money is left in another actor's share.
Each call reserves its worst case there and settles there (``_RemoteBudget``).

Needs the ``ray`` extra. A Ray already connected (``ray.init(address=...)``) is used as
it is; otherwise a local one is started for the batch and stopped after it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import anyio
import anyio.to_thread

from ..budget import Budget, BudgetExceeded
from ..messages import Model, Spend, Usage
from ._formats import BatchItem, Format, error_line
from ._gate import BatchGate
from ._report import BatchStats

__all__ = ["ACTOR_CPUS", "RayPool", "ray_failure"]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def ray_failure(exc: BaseException) -> str:
    """What went wrong with an item on Ray, in a line: no traceback, colour codes,
    process ids, addresses or paths (Ray's own text has all of them)."""
    import ray

    name = type(exc).__name__
    if isinstance(exc, ray.exceptions.ActorDiedError | ray.exceptions.RayActorError):
        return (
            f"the Ray actor running this item died ({name}); its other items fail too "
            "until it is replaced: run again with --retry-failed"
        )
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else None
        if cause is not None:
            first = _ANSI.sub("", str(cause)).strip().splitlines()
            return f"the item failed on its Ray actor: {type(cause).__name__}: {first[0][:300] if first else ''}"
    return f"the Ray engine failed this item ({name})"


ACTOR_CPUS = 0.25


def _share(value: int | None, parts: int) -> int | None:
    return None if value is None else max(1, math.ceil(value / parts))


class _RemoteGate:
    """A :class:`RateGate` whose gate lives in the limiter actor."""

    paused_for = 0.0  # the limiter holds the pause; an attempt simply waits in acquire

    def __init__(self, limiter: Any) -> None:
        self._limiter = limiter

    async def acquire(self, tokens: int) -> None:
        await self._limiter.acquire.remote(tokens)

    def release(self, tokens: int, usage: Any, failure: Any) -> None:
        self._limiter.release.remote(tokens, usage, failure)  # no need to wait for it


class _RemoteHold:
    __slots__ = ("_id", "_limiter")

    def __init__(self, limiter: Any, hold_id: int) -> None:
        self._limiter: Any = limiter
        self._id = hold_id

    def settle(self, usage: Usage | None, sent: bool = True) -> None:
        limiter, self._limiter = self._limiter, None
        if limiter is not None:
            # Not awaited: until it lands the reservation stays whole, which errs safe.
            limiter.settle.remote(self._id, usage, sent)


class _RemoteBudget:
    """A budget :class:`Account` whose account lives in the limiter actor; its holds are
    the actor's (``owner``), so that an actor's death forfeits the ones it left open."""

    def __init__(self, limiter: Any, owner: int) -> None:
        self._limiter = limiter
        self._owner = owner

    async def reserve(self, model: Model, prompt_tokens: int, max_output: int | None) -> Any:
        hold_id, refusal = await self._limiter.reserve.remote(
            model, prompt_tokens, max_output, self._owner
        )
        if refusal is not None:
            raise refusal
        return _RemoteHold(self._limiter, hold_id)


def _limiter_class() -> Any:
    import ray

    @ray.remote(num_cpus=0)
    class BatchLimiter:
        """The batch's one gate and one budget, for every actor."""

        def __init__(self, limits: Mapping[str, Any] | None, budget: Budget | None) -> None:
            self.gate = BatchGate(**limits) if limits is not None else None
            self.budget = budget
            self.holds: dict[int, tuple[int, Any]] = {}  # id -> (owner, hold)
            self.next_id = 0

        async def acquire(self, tokens: int) -> None:
            assert self.gate is not None
            await self.gate.acquire(tokens)

        def release(self, tokens: int, usage: Any, failure: Any) -> None:
            assert self.gate is not None
            self.gate.release(tokens, usage, failure)

        def counts(self) -> tuple[int, float]:
            assert self.gate is not None
            return self.gate.rate_limited, self.gate.paused_total

        async def reserve(
            self, model: Model, prompt_tokens: int, max_output: int | None, owner: int = -1
        ) -> tuple[int, BudgetExceeded | None]:
            assert self.budget is not None
            try:
                hold = await self.budget.reserve(model, prompt_tokens, max_output)
            except BudgetExceeded as exc:
                return 0, exc  # data, not a raised error: the actor raises it again
            self.next_id += 1
            self.holds[self.next_id] = (owner, hold)
            return self.next_id, None

        def settle(self, hold_id: int, usage: Usage | None, sent: bool) -> None:
            entry = self.holds.pop(hold_id, None)
            if entry is not None:
                entry[1].settle(usage, sent)

        def forfeit(self, owner: int) -> int:
            """The actor ``owner`` died: its open holds count as spent in full (what
            its calls cost will never be known), so nothing waits on them. How many."""
            lost = [i for i, (o, _) in self.holds.items() if o == owner]
            for i in lost:
                self.holds.pop(i)[1].forfeit()
            return len(lost)

        def spent(self) -> Spend:
            assert self.budget is not None
            return self.budget.spent

    return BatchLimiter


def _actor_class() -> Any:
    import ray

    from ._item import ItemRunner

    @ray.remote(num_cpus=ACTOR_CPUS)
    class BatchActor:
        """Runs items on this actor's asyncio loop, with its share of the limits."""

        def __init__(
            self,
            model: Model,
            fmt: Format,
            options: Mapping[str, Any],
            max_attempts: int,
            agent: Any,
            limits: Mapping[str, Any] | Any,
            budget: Any,
            index: int = 0,
        ) -> None:
            # Its own share of the limits, or the shared limiter's gate.
            shared = not isinstance(limits, Mapping)
            gate: Any = _RemoteGate(limits) if shared else BatchGate(**limits)
            run_options = {**options, "rate_gate": gate}
            account = _RemoteBudget(budget, index) if budget is not None else None
            self._run = ItemRunner(
                model, fmt, gate, BatchStats(), run_options, max_attempts, agent, account
            )

        async def run(self, item: BatchItem) -> tuple[bytes, Any]:
            return await self._run.execute(item)

    return BatchActor


class RayPool:
    """``actors`` Ray actors sharing the batch's limits; :meth:`execute` runs an item on
    the next one."""

    def __init__(
        self,
        model: Model,
        fmt: Format,
        options: Mapping[str, Any],
        max_attempts: int,
        agent: Any,
        *,
        concurrency: int,
        rpm: int | None,
        tpm: int | None,
        adaptive: bool,
        actors: int,
        limits: str = "shared",
        budget: Budget | None = None,
    ) -> None:
        if actors < 1:
            raise ValueError(f"ray_actors must be >= 1, got {actors!r}")
        if limits not in ("shared", "split"):
            raise ValueError(f"ray_limits must be 'shared' or 'split', got {limits!r}")
        self._args = (model, fmt, dict(options), max_attempts, agent)
        parts = actors if limits == "split" else 1
        self._limits = {
            "concurrency": _share(concurrency, parts),
            "rpm": _share(rpm, parts),
            "tpm": _share(tpm, parts),
            "adaptive": adaptive,
        }
        self._shared = limits == "shared"
        self._budget = budget
        self._limiter: Any = None
        self._count = actors
        self._actors: list[Any] = []
        self._load: list[int] = []  # items in flight per actor
        self._started_ray = False
        self._format = fmt
        # One thread per item waiting on its result: as many as may be in flight.
        self._waiting = anyio.CapacityLimiter(concurrency)

    def start(self) -> None:
        """Connect to Ray (starting a local one if none is) and create the actors."""
        try:
            import ray
        except ImportError as exc:
            raise ImportError("engine='ray' needs Ray: pip install 'tinyagent-sdk[ray]'") from exc
        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
            self._started_ray = True
        limits: Any = self._limits
        if self._shared or self._budget is not None:
            concurrency = int(self._limits["concurrency"] or 1) * (
                1 if self._shared else self._count
            )
            limiter = _limiter_class().options(max_concurrency=concurrency + 64)
            gate_limits = self._limits if self._shared else None
            self._limiter = limiter.remote(gate_limits, self._budget)
            if self._shared:
                limits = self._limiter
        budget = self._limiter if self._budget is not None else None
        cls = _actor_class()
        self._actors = [cls.remote(*self._args, limits, budget, i) for i in range(self._count)]
        self._load = [0] * self._count

    def rate_limits(self) -> tuple[int, float] | None:
        """(429s seen, seconds paused) by the shared limiter; None with split limits."""
        import ray

        if self._limiter is None or not self._shared:
            return None
        return ray.get(self._limiter.counts.remote())  # type: ignore[no-any-return]

    def budget_spent(self) -> Spend:
        """What the batch's budget has spent, as the limiter holds it."""
        import ray

        assert self._limiter is not None
        return ray.get(self._limiter.spent.remote())  # type: ignore[no-any-return]

    def stop(self) -> None:
        import ray

        for actor in self._actors:
            ray.kill(actor)
        self._actors = []
        if self._limiter is not None:
            ray.kill(self._limiter)
            self._limiter = None
        if self._started_ray:
            ray.shutdown()

    async def execute(self, item: BatchItem) -> tuple[bytes, Any]:
        import ray

        # The least busy actor: one whose items wait (its share of the limits paused)
        # does not hold up the others.
        index = min(range(len(self._actors)), key=self._load.__getitem__)
        self._load[index] += 1
        ref = self._actors[index].run.remote(item)
        try:
            return await anyio.to_thread.run_sync(
                ray.get, ref, abandon_on_cancel=True, limiter=self._waiting
            )
        except anyio.get_cancelled_exc_class():
            ray.cancel(ref)
            raise
        except ray.exceptions.RayError as exc:  # an actor died: this item fails, not the batch
            if self._budget is not None and self._limiter is not None:
                # Its open reservations will never settle: count them spent, so that
                # no other item waits on them for ever.
                await anyio.to_thread.run_sync(ray.get, self._limiter.forfeit.remote(index))
            line = error_line(self._format, item.id, "engine", ray_failure(exc))
            return line, ("engine", 0, 0, 0.0, 0.0)
        finally:
            self._load[index] -= 1
