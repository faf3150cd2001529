"""The error inside task groups: anyio (and the libraries we call) wrap an exception
raised in a task group in an ``ExceptionGroup``, one per layer; a user is told the
error itself, not the group's summary ("unhandled errors in a TaskGroup")."""

from __future__ import annotations

__all__ = ["innermost"]


def innermost(exc: BaseException) -> BaseException:
    """``exc``, or the first error under its groups, however deep."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc
