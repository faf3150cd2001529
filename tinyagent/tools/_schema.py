"""JSON Schema from Python type hints, for function tools: scalars, ``Literal``, ``Enum``,
optionals and unions, containers, dates, UUIDs and paths, attrs classes, dataclasses and
``TypedDict``s (nested), and ``Annotated[X, "description"]``. What cannot be described
fails when the tool is defined, naming the parameter."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import inspect
import pathlib
import types
import typing
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs

__all__ = ["schema_of"]

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    dt.datetime: {"type": "string", "format": "date-time"},
    dt.date: {"type": "string", "format": "date"},
    dt.time: {"type": "string", "format": "time"},
    uuid.UUID: {"type": "string", "format": "uuid"},
    pathlib.Path: {"type": "string"},
    pathlib.PurePath: {"type": "string"},
}
_SEQUENCES = (list, Sequence, typing.Sequence, set, frozenset, tuple)


def _typed_dict(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, dict) and hasattr(t, "__required_keys__")


def _object(
    fields: list[tuple[str, Any, bool, Any]], where: str, seen: frozenset[Any]
) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, hint, has_default, default in fields:
        prop = schema_of(hint, f"{where}.{name}", seen)
        if has_default and _jsonable(default):
            prop["default"] = default
        if not has_default:
            required.append(name)
        properties[name] = prop
    out: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        out["required"] = required
    return out


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _json_values(values: Any, where: str, what: str) -> None:
    """A model answers in JSON: a choice it cannot write is refused at definition."""
    bad = [v for v in values if not _jsonable(v) or (isinstance(v, float) and v != v)]
    if bad:
        raise TypeError(
            f"{where}: {what} has values a model cannot send in JSON ({bad[0]!r}); use "
            "str, int, float, bool or None values"
        )


def _class_fields(cls: type, where: str) -> list[tuple[str, Any, bool, Any]]:
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except NameError as exc:
        raise TypeError(
            f"{where}: cannot resolve the type hints of {cls.__name__} ({exc})"
        ) from None
    if attrs.has(cls):
        out = []
        for a in attrs.fields(cls):
            if not a.init:
                continue
            has_default = a.default is not attrs.NOTHING
            default = a.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = None
            out.append((a.alias or a.name, hints.get(a.name, a.type), has_default, default))
        return out
    if dataclasses.is_dataclass(cls):
        out = []
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            has_default = f.default is not dataclasses.MISSING or (
                f.default_factory is not dataclasses.MISSING
            )
            default = f.default if f.default is not dataclasses.MISSING else None
            out.append((f.name, hints.get(f.name, f.type), has_default, default))
        return out
    required = cls.__required_keys__  # type: ignore[attr-defined]
    return [(k, v, k not in required, None) for k, v in hints.items()]


def schema_of(annotation: Any, where: str, seen: frozenset[Any] = frozenset()) -> dict[str, Any]:
    """The JSON Schema of ``annotation``; ``where`` names it in errors."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return {}
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        inner = schema_of(args[0], where, seen)
        notes = [a for a in args[1:] if isinstance(a, str)]
        if notes:
            inner["description"] = " ".join(notes)
        return inner
    if annotation in _SCALARS:
        return dict(_SCALARS[annotation])
    if origin is Literal:
        _json_values(args, where, f"{annotation!r}")
        return {"enum": list(args)}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        values = [m.value for m in annotation]
        _json_values(values, where, f"the Enum {annotation.__name__}")
        return {"enum": values}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [schema_of(a, where, seen) for a in args]}
    if origin is tuple and args and args[-1] is not Ellipsis:
        items = [schema_of(a, where, seen) for a in args]
        return {
            "type": "array",
            "prefixItems": items,
            "minItems": len(items),
            "maxItems": len(items),
        }
    if origin in _SEQUENCES or annotation in (list, tuple, set, frozenset):
        item = args[0] if args else Any
        out: dict[str, Any] = {"type": "array", "items": schema_of(item, where, seen)}
        if origin in (set, frozenset) or annotation in (set, frozenset):
            out["uniqueItems"] = True
        return out
    if origin in (dict, Mapping, typing.Mapping) or annotation is dict:
        if args and args[0] is not str:
            raise TypeError(f"{where}: JSON object keys are strings; use dict[str, ...]")
        value = args[1] if len(args) == 2 else Any
        return {"type": "object", "additionalProperties": schema_of(value, where, seen) or True}
    if isinstance(annotation, type) and (
        attrs.has(annotation) or dataclasses.is_dataclass(annotation) or _typed_dict(annotation)
    ):
        if annotation in seen:
            raise TypeError(
                f"{where}: {annotation.__name__} refers to itself; a tool schema cannot"
            )
        fields = _class_fields(annotation, where)
        return _object(fields, where, seen | {annotation})
    raise TypeError(
        f"{where}: cannot describe {annotation!r} in JSON Schema; use str, int, float, bool, "
        "Literal, an Enum, date/datetime/UUID/Path, list/tuple/set/dict[str, ...], unions of "
        "these, an attrs class, a dataclass or a TypedDict, or write a Tool by hand"
    )
