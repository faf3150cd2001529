"""Option checks, run when an option is set (``Agent(...)``, ``Tool(...)``,
``StreamOptions(...)``), so that a bad value fails where it was written, in our words,
instead of meaning something else silently (a timeout of 0 read as "none") or failing
later in a library's wording."""

from __future__ import annotations

import math
from typing import Any

import attrs

__all__ = ["callable_or_none", "count_at_least", "seconds", "seconds_or_none"]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})" if not _number(value) else repr(value)


def seconds(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    """A duration: a positive number of seconds (``math.inf`` for no limit)."""
    if not _number(value) or math.isnan(value) or value <= 0:
        raise ValueError(f"{attr.name} must be a positive number of seconds, got {_shown(value)}")


def seconds_or_none(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    """A duration, or None for no limit."""
    if value is None:
        return
    if not _number(value) or math.isnan(value) or value <= 0:
        raise ValueError(
            f"{attr.name} must be a positive number of seconds, or None for no limit; "
            f"got {_shown(value)}"
        )


def count_at_least(minimum: int, *, none_means: str | None = None) -> Any:
    """A whole number >= ``minimum`` (or None, when ``none_means`` says what None does)."""

    def check(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is None and none_means is not None:
            return
        if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
            return
        alt = f", or None for {none_means}" if none_means is not None else ""
        raise ValueError(
            f"{attr.name} must be a whole number >= {minimum}{alt}; got {_shown(value)}"
        )

    return check


def callable_or_none(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not callable(value):
        raise TypeError(f"{attr.name} must be a function (sync or async), got {_shown(value)}")
