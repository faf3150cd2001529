"""The budgets in force where a call is made.

An agent run draws on its budget and, while its tools run, lends it to them: a
sub-agent called as a tool (or any call a tool makes) draws on its caller's budget as
well as its own. A context variable carries them, so they follow the run's tasks (trio
and asyncio copy a task's context into the tasks it starts) and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from ._account import Account

__all__ = ["ambient_budgets", "charging", "merge"]

_AMBIENT: ContextVar[tuple[Account, ...]] = ContextVar("tinyagent_budgets", default=())


def ambient_budgets() -> tuple[Account, ...]:
    """The budgets calls made here draw on, innermost first."""
    return _AMBIENT.get()


@contextmanager
def charging(*budgets: Account | None) -> Iterator[tuple[Account, ...]]:
    """``with charging(budget):`` every model call made inside (in this task and the
    tasks it starts) draws on ``budget`` too, before the budgets already in force."""
    chain = merge([b for b in budgets if b is not None], _AMBIENT.get())
    token = _AMBIENT.set(chain)
    try:
        yield chain
    finally:
        _AMBIENT.reset(token)


def merge(first: Sequence[Account], then: Sequence[Account]) -> tuple[Account, ...]:
    """``first`` then ``then``, each account once (the first place it appears)."""
    out: list[Account] = []
    for account in (*first, *then):
        if not any(account is seen for seen in out):
            out.append(account)
    return tuple(out)
