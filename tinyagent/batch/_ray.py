"""The Ray engine: the same batch, its items run by a pool of Ray actors.

The driver keeps everything that must be single: the resume scan, the input feed, the
one writer (which also drops any id already written, should a result arrive twice).
Each actor runs tinyagent on its own asyncio loop with a fraction of a CPU (whole-CPU
actors starve Ray's own tasks on a small machine, and it hangs). The batch's limits are
split across the actors: each has its own gate with a share of the concurrency, RPM and
TPM, so a 429 pauses that actor's share.

Needs the ``ray`` extra. A Ray already connected (``ray.init(address=...)``) is used as
it is; otherwise a local one is started for the batch and stopped after it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import anyio
import anyio.to_thread

from .._messages import Model
from ._formats import BatchItem, Format, error_line
from ._gate import BatchGate
from ._report import BatchStats

__all__ = ["ACTOR_CPUS", "RayPool"]

ACTOR_CPUS = 0.25


def _share(value: int | None, parts: int) -> int | None:
    return None if value is None else max(1, math.ceil(value / parts))


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
            limits: Mapping[str, Any],
        ) -> None:
            gate = BatchGate(**limits)
            run_options = {**options, "rate_gate": gate}
            self._run = ItemRunner(model, fmt, gate, BatchStats(), run_options, max_attempts, agent)

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
    ) -> None:
        if actors < 1:
            raise ValueError(f"ray_actors must be >= 1, got {actors!r}")
        self._args = (model, fmt, dict(options), max_attempts, agent)
        self._limits = {
            "concurrency": _share(concurrency, actors),
            "rpm": _share(rpm, actors),
            "tpm": _share(tpm, actors),
            "adaptive": adaptive,
        }
        self._count = actors
        self._actors: list[Any] = []
        self._next = 0
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
        cls = _actor_class()
        self._actors = [cls.remote(*self._args, self._limits) for _ in range(self._count)]

    def stop(self) -> None:
        import ray

        for actor in self._actors:
            ray.kill(actor)
        self._actors = []
        if self._started_ray:
            ray.shutdown()

    async def execute(self, item: BatchItem) -> tuple[bytes, Any]:
        import ray

        actor = self._actors[self._next % len(self._actors)]
        self._next += 1
        ref = actor.run.remote(item)
        try:
            return await anyio.to_thread.run_sync(
                ray.get, ref, abandon_on_cancel=True, limiter=self._waiting
            )
        except anyio.get_cancelled_exc_class():
            ray.cancel(ref)
            raise
        except ray.exceptions.RayError as exc:  # an actor died: this item fails, not the batch
            line = error_line(self._format, item.id, "engine", f"the Ray actor failed: {exc}")
            return line, ("engine", 0, 0, 0.0, 0.0)
