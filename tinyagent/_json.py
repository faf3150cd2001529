"""JSON decoding for the hot path.

orjson parses a typical chat-completion chunk in about 0.6 µs where the standard
library takes about 2.2 µs, a third of our whole per-chunk budget (see
benches/README.md). Anything orjson refuses but the standard library accepts (invalid
UTF-8 that the SSE rules replace, NaN) falls back to ``json``. orjson reads integers
past 64 bits as floats, which does not matter in a chunk (strings and token counts) but
does in tool arguments, so those are parsed with ``json`` (see ``parse_tool_arguments``).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps", "loads"]

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency
    orjson = None  # type: ignore[assignment]


def _std_loads(data: bytes | str) -> Any:
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    return json.loads(data)


def _std_dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


if orjson is not None:
    _fast_dumps = orjson.dumps

    def dumps(value: Any) -> bytes:
        """Compact UTF-8 JSON; values orjson cannot encode go through ``json``."""
        try:
            return _fast_dumps(value)
        except TypeError:
            return _std_dumps(value)

    _fast = orjson.loads
    _FastError = orjson.JSONDecodeError

    def loads(data: bytes | str) -> Any:
        """Parse JSON text; raises ``ValueError`` (as ``json`` does) when it is invalid."""
        try:
            return _fast(data)
        except _FastError:
            return _std_loads(data)

else:  # pragma: no cover
    loads = _std_loads
    dumps = _std_dumps
