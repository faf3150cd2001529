"""The rate gate a model call consults: one shared pace for many calls.

A call asks the gate before each attempt (``acquire``, with its estimated prompt
tokens) and tells it how the attempt ended (``release``, with the tokens it really
used and the typed failure, if any). The transports' retry loop does both, so every
attempt counts, retries included, and a 429's ``Retry-After`` seen by one call pauses
all of them.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..messages import Failure, Usage

__all__ = ["RateGate"]


@runtime_checkable
class RateGate(Protocol):
    async def acquire(self, tokens: int) -> None:
        """Wait until an attempt estimated at ``tokens`` may be sent."""
        ...

    def release(self, tokens: int, usage: Usage | None, failure: Failure | None) -> None:
        """The attempt that acquired ``tokens`` ended: with ``usage`` (what it really
        used, when known) or with ``failure``."""
        ...
