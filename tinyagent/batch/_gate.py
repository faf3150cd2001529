"""One pace for a whole batch: a concurrency cap, requests and tokens per minute, and a
rate-limit pause that stops every worker, not only the one that was told to wait.

It is a :class:`tinyagent.transports.RateGate`: every attempt of every call (retries
included) passes it, so the limits hold for what is really sent. Token counts are
estimated before a call and corrected from the usage that comes back. Adaptive mode
halves the concurrency on a 429 and grows it back by one after as many successes as
the current limit. Time is anyio's clock, so trio's ``MockClock`` drives it in tests.
"""

from __future__ import annotations

import math
from collections import deque

import anyio

from ..messages import Failure, FailureKind, Usage

__all__ = ["BatchGate"]

WINDOW = 60.0  # seconds: the "per minute" of RPM and TPM
DEFAULT_PAUSE = 5.0  # a 429 without Retry-After pauses this long (doubling while they repeat)
MAX_PAUSE = 120.0
DECAY = 0.98


class BatchGate:
    """``BatchGate(concurrency=100, rpm=500, tpm=200_000)``; pass it as a call's
    ``rate_gate`` (``run_batch`` does)."""

    def __init__(
        self,
        *,
        concurrency: int,
        rpm: int | None = None,
        tpm: int | None = None,
        adaptive: bool = False,
    ) -> None:
        for name, value in (("concurrency", concurrency), ("rpm", rpm), ("tpm", tpm)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        self.max_concurrency = concurrency
        self.limit = concurrency
        self.rpm = rpm
        self.tpm = tpm
        self.adaptive = adaptive
        self.in_flight = 0
        self.paused_until = -math.inf
        self.paused_total = 0.0  # seconds of pause asked for by rate limits, summed
        self.rate_limited = 0  # 429s seen
        self.tokens_used = 0
        self._requests: deque[float] = deque()  # send times within the window
        self._tokens: deque[list[float]] = deque()  # [send time, tokens] within the window
        self._token_sum = 0.0
        self._open: dict[int, deque[list[float]]] = {}  # estimate -> its open entries
        # What calls really used over what was estimated: sums that fade (by DECAY a
        # call), so the ratio follows the batch's recent calls.
        self._used_sum = 0.0
        self._estimated_sum = 0.0
        self._successes = 0
        self._streak = 0  # 429s without a success between them
        self._changed: anyio.Event | None = None  # made in the event loop, on first wait

    # --- the RateGate protocol -----------------------------------------------------

    async def acquire(self, tokens: int) -> None:
        estimate = tokens
        if self._estimated_sum > 0:  # the estimate, as usage has corrected it so far
            tokens = max(1, round(tokens * self._used_sum / self._estimated_sum))
        while True:
            now = anyio.current_time()
            wait = self._wait(now, tokens)
            if wait <= 0:
                break
            if self._changed is None:
                self._changed = anyio.Event()
            with anyio.move_on_after(wait):
                await self._changed.wait()
        # ``now`` is the time read just before the check that let the call go (no await
        # between): read once, not again.
        self.in_flight += 1
        if self.rpm is not None:
            self._requests.append(now)
        entry = [now, float(tokens)]
        if self.tpm is not None:
            self._tokens.append(entry)
            self._token_sum += tokens
        self._open.setdefault(estimate, deque()).append(entry)

    def release(self, tokens: int, usage: Usage | None, failure: Failure | None) -> None:
        self.in_flight -= 1
        open_entries = self._open.get(tokens)
        entry = open_entries.popleft() if open_entries else None
        if open_entries is not None and not open_entries:
            del self._open[tokens]
        if usage is not None:
            used = usage.total or (usage.input + usage.output + usage.cache_read)
            self.tokens_used += used
            if tokens > 0 and used > 0:
                self._used_sum = self._used_sum * DECAY + used
                self._estimated_sum = self._estimated_sum * DECAY + tokens
            if entry is not None and self.tpm is not None:
                self._token_sum += used - entry[1]
                entry[1] = float(used)
            self._success()
        elif failure is not None and failure.kind is FailureKind.RATE_LIMIT:
            self._rate_limited(failure)
        self._wake()

    # --- state ---------------------------------------------------------------------

    @property
    def paused_for(self) -> float:
        """Seconds left of the current rate-limit pause (0 when not paused)."""
        return max(0.0, self.paused_until - anyio.current_time())

    def _wait(self, now: float, tokens: int) -> float:
        """Seconds until an attempt of ``tokens`` may go (0: now; inf: on a release)."""
        waits = [self.paused_until - now]
        if self.in_flight >= self.limit:
            waits.append(math.inf)
        if self.rpm is not None:
            while self._requests and self._requests[0] <= now - WINDOW:
                self._requests.popleft()
            if len(self._requests) >= self.rpm:
                waits.append(self._requests[0] + WINDOW - now)
        if self.tpm is not None:
            while self._tokens and self._tokens[0][0] <= now - WINDOW:
                self._token_sum -= self._tokens.popleft()[1]
            # One call larger than the whole budget still goes, alone in its minute.
            if self._tokens and self._token_sum + min(tokens, self.tpm) > self.tpm:
                waits.append(self._expiry(now, self._token_sum + tokens - self.tpm))
        return max(waits)

    def _expiry(self, now: float, excess: float) -> float:
        """Seconds until ``excess`` tokens have left the window."""
        freed = 0.0
        for sent, used in self._tokens:
            freed += used
            if freed >= excess:
                return sent + WINDOW - now
        return self._tokens[-1][0] + WINDOW - now

    def _success(self) -> None:
        self._streak = 0
        if self.adaptive and self.limit < self.max_concurrency:
            self._successes += 1
            if self._successes >= self.limit:
                self._successes = 0
                self.limit += 1

    def _rate_limited(self, failure: Failure) -> None:
        self.rate_limited += 1
        self._streak += 1
        pause = failure.retry_after
        if pause is None:
            pause = min(DEFAULT_PAUSE * 2 ** (self._streak - 1), MAX_PAUSE)
        now = anyio.current_time()
        until = now + min(pause, MAX_PAUSE)
        if until > self.paused_until:
            self.paused_total += until - max(now, self.paused_until)
            self.paused_until = until
        if self.adaptive:
            self.limit = max(1, self.limit // 2)
            self._successes = 0

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None
