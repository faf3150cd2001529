"""Calling user hooks that may be plain functions or coroutines."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["call_maybe_async"]


async def call_maybe_async(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a hook that may be sync or async."""
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result
