"""The batch's rate gate over simulated minutes (trio's MockClock): RPM and TPM hold in
every minute, a 429's Retry-After pauses every worker, adaptive concurrency."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from tinyagent import Failure, FailureKind, Usage
from tinyagent.batch import BatchGate

pytestmark = pytest.mark.trio

RATE_LIMITED = Failure(FailureKind.RATE_LIMIT, status=429, retry_after=30.0)


async def drive(gate: BatchGate, workers: int, calls: int, tokens: int = 10,
                used: int | None = None, took: float = 0.5) -> list[float]:  # fmt: skip
    """``calls`` calls from ``workers`` workers; each takes ``took`` seconds and uses
    ``used`` tokens (default: the estimate). Returns the send times."""
    sent: list[float] = []
    left = [calls]

    async def worker() -> None:
        while left[0] > 0:
            left[0] -= 1
            await gate.acquire(tokens)
            sent.append(trio.current_time())
            await trio.sleep(took)
            gate.release(tokens, Usage(total=used if used is not None else tokens), None)

    async with trio.open_nursery() as n:
        for _ in range(workers):
            n.start_soon(worker)
    return sent


def most_in_a_minute(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 60) for start in times)


async def test_rpm_holds_in_every_minute(autojump_clock: trio.testing.MockClock) -> None:
    gate = BatchGate(concurrency=50, rpm=60)
    sent = await drive(gate, workers=50, calls=300)
    assert most_in_a_minute(sent) <= 60
    assert 240 <= sent[-1] - sent[0] < 300  # 300 requests at 60 a minute: about 4 minutes


async def test_tpm_holds_and_is_corrected_by_usage(autojump_clock: trio.testing.MockClock) -> None:
    # Estimated at 100 tokens, each call really uses 400: the gate must follow usage.
    gate = BatchGate(concurrency=20, tpm=4_000)
    sent = await drive(gate, workers=20, calls=80, tokens=100, used=400)
    # The first calls go on the estimate; once usage has corrected it, each minute holds
    # 4,000 / 400 = 10 calls.
    later = [t for t in sent if t >= sent[0] + 60]
    assert most_in_a_minute(later) <= 10
    assert gate.tokens_used == 80 * 400
    assert sent[-1] - sent[0] >= 4 * 60


async def test_concurrency_cap(autojump_clock: trio.testing.MockClock) -> None:
    gate = BatchGate(concurrency=3)
    peak = 0

    async def one() -> None:
        nonlocal peak
        await gate.acquire(1)
        peak = max(peak, gate.in_flight)
        await trio.sleep(1)
        gate.release(1, Usage(total=1), None)

    async with trio.open_nursery() as n:
        for _ in range(20):
            n.start_soon(one)
    assert peak == 3


async def test_a_429_retry_after_pauses_every_worker(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gate = BatchGate(concurrency=10)
    await gate.acquire(1)
    start = trio.current_time()
    gate.release(1, None, RATE_LIMITED)  # one call was told: wait 30 s
    assert gate.paused_for == pytest.approx(30.0)
    sent = await drive(gate, workers=10, calls=10)
    assert min(sent) - start >= 30.0  # nobody went before the pause ended
    assert gate.rate_limited == 1 and gate.paused_total == pytest.approx(30.0)


async def test_adaptive_halves_on_429_and_grows_back(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gate = BatchGate(concurrency=16, adaptive=True)
    await gate.acquire(1)
    gate.release(1, None, RATE_LIMITED)
    assert gate.limit == 8
    await gate.acquire(1)
    gate.release(1, None, Failure(FailureKind.RATE_LIMIT, status=429))
    assert gate.limit == 4
    await drive(gate, workers=4, calls=4 + 5 + 6)
    assert gate.limit == 7  # one more after as many successes as the limit, three times


async def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="rpm"):
        BatchGate(concurrency=1, rpm=0)
    with pytest.raises(ValueError, match="concurrency"):
        BatchGate(concurrency=0)
