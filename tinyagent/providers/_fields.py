"""Reading one field of a parsed payload as the native core reads it, for every format's
parser: a string only if it is a JSON string; an index or a token count only if it is a
JSON integer from 0 to 2**63 - 1 (anything else is no index, and counts 0)."""

from __future__ import annotations

from typing import Any

__all__ = ["json_count", "json_index", "json_str"]

_LIMIT = 2**63


def json_str(value: Any) -> str | None:
    return value if type(value) is str else None


def json_index(value: Any) -> int | None:
    return value if type(value) is int and 0 <= value < _LIMIT else None


def json_count(value: Any) -> int:
    return value if type(value) is int and 0 <= value < _LIMIT else 0
