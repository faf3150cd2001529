"""Runs at once per caller: a slot taken when a run is admitted and given back when its
response ends, however it ends. Over the limit is a 429 with ``Retry-After``."""

from __future__ import annotations

from collections.abc import Callable

from ._errors import ApiError

__all__ = ["RunGate"]


class RunGate:
    __slots__ = ("_limit", "_retry_after", "_running")

    def __init__(self, limit: int, retry_after: int) -> None:
        self._limit = limit
        self._retry_after = retry_after
        self._running: dict[str, int] = {}

    def running(self, key: str) -> int:
        return self._running.get(key, 0)

    def take(self, key: str) -> Callable[[], None]:
        """A slot for ``key`` (a token's name, or a client's address), or ApiError(429);
        returns the function that gives it back (idempotent)."""
        n = self._running.get(key, 0)
        if n >= self._limit:
            raise ApiError(
                429,
                f"too many runs at once: {n} of this caller's {self._limit} are running; "
                "retry when one ends",
                code="too_many_runs",
                headers={"retry-after": str(self._retry_after)},
            )
        self._running[key] = n + 1
        given_back = False

        def release() -> None:
            nonlocal given_back
            if given_back:
                return
            given_back = True
            left = self._running[key] - 1
            if left:
                self._running[key] = left
            else:
                del self._running[key]

        return release
