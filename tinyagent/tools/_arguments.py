"""Arguments as the model sends them (JSON), read into the types a function's hints
name: the project's converter, plus unions of any members.

cattrs reads a union of attrs classes by their distinct fields, and nothing else: a
hint ``int | str`` or ``Path | None`` has no hook. Here a union is read by its members
in order — a scalar member only when the value is of that JSON type already (``5`` is
an ``int``, never ``"5"``; an integer is also a ``float``), any other member when the
converter reads the value as it — and a value no member takes is refused, naming them.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import attrs

from ..serde import converter as _serde_converter

__all__ = ["arguments_converter"]

_NONE = type(None)
_SCALARS = (str, int, float, bool)


def _is_union(t: Any) -> bool:
    if typing.get_origin(t) not in (typing.Union, types.UnionType):
        return False
    members = [m for m in typing.get_args(t) if m is not _NONE]
    # Unions of attrs classes only: cattrs tells them apart by their fields.
    return not all(isinstance(m, type) and attrs.has(m) for m in members)


def _scalar_fits(value: Any, member: type) -> bool:
    if member is bool or isinstance(value, bool):
        return member is bool and isinstance(value, bool)
    if member is float:
        return isinstance(value, int | float)
    return isinstance(value, member)


def _union_hook(union: Any) -> Any:
    members = typing.get_args(union)

    def structure(value: Any, _type: Any) -> Any:
        if value is None:
            if _NONE in members:
                return None
        else:
            for member in members:
                if member in _SCALARS and _scalar_fits(value, member):
                    return float(value) if member is float else value
            for member in members:
                if member is _NONE or member in _SCALARS:
                    continue
                try:
                    return arguments_converter.structure(value, member)
                except Exception:
                    continue
        names = " | ".join(getattr(m, "__name__", None) or repr(m) for m in members)
        raise ValueError(f"{value!r} is none of {names}")

    return structure


arguments_converter = _serde_converter.copy()
arguments_converter.register_structure_hook_factory(_is_union, _union_hook)
