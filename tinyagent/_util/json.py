"""JSON decoding for the hot path.

orjson parses a typical chat-completion chunk in about 0.6 µs where the standard
library takes about 2.2 µs, a third of our whole per-chunk budget (see
benches/README.md). Anything orjson refuses but the standard library accepts (invalid
UTF-8 that the SSE rules replace, NaN) falls back to ``json``. orjson reads integers
past 64 bits as floats, which does not matter in a chunk (strings and token counts) but
does in tool arguments, so those are parsed with ``json`` (see ``parse_tool_arguments``).

Two rules hold for every JSON text read from a server, here and in the native core
alike: a lone surrogate escape (``\\ud800`` without its pair) decodes as U+FFFD, so
no string we hand on can fail to encode later; and a text nested more than
``MAX_DEPTH`` levels deep is malformed (orjson's own limit). orjson refuses both lone
surrogates and excess depth, so the rules cost nothing on the fast path.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "dumps",
    "json_depth",
    "loads",
    "nested_too_deep",
    "replace_lone_surrogates",
    "without_lone_surrogates",
]

MAX_DEPTH = 1024
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def nested_too_deep(limit: int) -> str:
    return f"nested more than {limit} levels deep"


def replace_lone_surrogates(text: str) -> str:
    """The one rule for a lone surrogate in any text tinyagent keeps or sends (from a
    stream, a tool's result such as ``os.fsdecode`` of a file name, a prompt): it becomes
    U+FFFD, so that the transcript in memory, in a store and on the wire agree and every
    UTF-8 encoder takes it. A Python str holds no valid pairs, so every surrogate in one
    is lone."""
    return _LONE_SURROGATE.sub("\ufffd", text) if _LONE_SURROGATE.search(text) else text


def without_lone_surrogates(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (keys too) made U+FFFD.

    Iterative, not recursive: it runs on values as deep as the parser allows."""
    if isinstance(value, str):
        return replace_lone_surrogates(value)
    if not isinstance(value, dict | list):
        return value
    root: list[Any] = [value]
    stack: list[tuple[Any, Any, Any]] = [(root, 0, value)]
    while stack:
        parent, key, node = stack.pop()
        if isinstance(node, dict):
            new: Any = {}
            for k, v in node.items():
                new[replace_lone_surrogates(k) if isinstance(k, str) else k] = v
        else:
            new = list(node)
        parent[key] = new
        items = new.items() if isinstance(new, dict) else enumerate(new)
        for k, v in items:
            if isinstance(v, str):
                new[k] = replace_lone_surrogates(v)
            elif isinstance(v, dict | list):
                stack.append((new, k, v))
    return root[0]


def json_depth(value: Any) -> int:
    """How many arrays and objects deep ``value`` is (0 for a scalar); iterative."""
    depth = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            depth = max(depth, level)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((c, level + 1) for c in children if isinstance(c, dict | list))
    return depth


try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency
    orjson = None  # type: ignore[assignment]


def _std_loads(data: bytes | str) -> Any:
    """What orjson refused: not UTF-8 (decoded with replacement, as the SSE rules do),
    NaN, a lone surrogate, or too deep."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
        if orjson is not None:
            try:
                return orjson.loads(data)  # it only lacked valid UTF-8
            except orjson.JSONDecodeError:
                pass
    try:
        value = json.loads(data)
    except RecursionError:
        raise ValueError(nested_too_deep(MAX_DEPTH)) from None
    # Python 3.13's json nests deeper than 3.11's before its recursion limit: the depth
    # rule is checked, not left to the interpreter (a fallback path: rare, and small).
    if isinstance(value, dict | list) and json_depth(value) > MAX_DEPTH:
        raise ValueError(nested_too_deep(MAX_DEPTH))
    if "\\u" in data:
        value = without_lone_surrogates(value)
    return value


def _std_dumps(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    # A lone surrogate from user code (a tool's result, a hand-built message) must not
    # make every later request fail to encode: it is sent as U+FFFD.
    return replace_lone_surrogates(text).encode()


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
        except _FastError as exc:
            if "depth limit" in str(exc):  # the rule, not json's recursion limit (which
                raise ValueError(nested_too_deep(MAX_DEPTH)) from None  # varies by version)
            return _std_loads(data)

else:  # pragma: no cover
    loads = _std_loads
    dumps = _std_dumps
