"""JSON Schema, as our tools write it, turned into the schema subset Gemini's
``functionDeclarations[].parameters`` accepts (an OpenAPI 3 ``Schema``).

Converted: ``$ref`` to ``$defs`` inlined; ``X | None`` (``anyOf`` with ``null``, or a
``type`` list) becomes ``X`` with ``nullable``; ``const`` becomes a one-value ``enum``;
a one-item ``allOf`` is inlined. Dropped: keys that only annotate (``$schema``,
``title``, ``examples``, ``additionalProperties``…). Refused, with the path named:
what Gemini cannot express (a recursive ``$ref``, ``not``, ``oneOf``, a multi-item
``allOf``, ``patternProperties``), never silently loosened.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["GeminiSchemaError", "gemini_schema"]

# The Schema fields of the Gemini API reference (ai.google.dev/api/caching#Schema).
_KEPT = {
    "type", "format", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum",
    "maximum",
}  # fmt: skip
_REFUSED = {"not", "oneOf", "patternProperties", "if", "then", "else", "dependentSchemas"}


class GeminiSchemaError(ValueError):
    """A tool's schema uses what Gemini's function declarations cannot express."""


def gemini_schema(schema: Mapping[str, Any], tool: str) -> dict[str, Any]:
    """``schema`` (a tool's parameters) in the form Gemini takes."""
    defs = schema.get("$defs") or schema.get("definitions") or {}
    out = _convert(schema, defs, tool, "parameters", ())
    out.setdefault("type", "object")
    return out


def _convert(
    schema: Any, defs: Mapping[str, Any], tool: str, path: str, seen: tuple[str, ...]
) -> dict[str, Any]:
    if not isinstance(schema, Mapping):
        return {}
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        if name in seen:
            raise GeminiSchemaError(
                f"tool {tool!r}: {path} refers to itself ($ref {name!r}); Gemini's function "
                "declarations cannot express a recursive schema"
            )
        if name not in defs:
            raise GeminiSchemaError(f"tool {tool!r}: {path} refers to an unknown $ref {name!r}")
        merged = {**defs[name], **{k: v for k, v in schema.items() if k != "$ref"}}
        return _convert(merged, defs, tool, path, (*seen, name))
    refused = sorted(_REFUSED & set(schema))
    if refused:
        raise GeminiSchemaError(
            f"tool {tool!r}: {path} uses {', '.join(refused)}, which Gemini's function "
            "declarations cannot express"
        )
    all_of = schema.get("allOf")
    if all_of is not None:
        if not isinstance(all_of, list) or len(all_of) != 1:
            raise GeminiSchemaError(
                f"tool {tool!r}: {path} uses allOf with several schemas, which Gemini's "
                "function declarations cannot express"
            )
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return _convert({**all_of[0], **rest}, defs, tool, path, seen)
    out: dict[str, Any] = {}
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if len(kinds) != 1:
            raise GeminiSchemaError(
                f"tool {tool!r}: {path} has type {kind!r}; Gemini takes one type (and null)"
            )
        out["type"] = kinds[0]
        if "null" in kind:
            out["nullable"] = True
    elif kind is not None:
        out["type"] = kind
    for key, value in schema.items():
        if key not in _KEPT or key in ("type", "anyOf", "properties", "items"):
            continue
        out[key] = value
    if "const" in schema:
        out["enum"] = [schema["const"]]
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if isinstance(schema.get("properties"), Mapping):
        out["properties"] = {
            name: _convert(sub, defs, tool, f"{path}.{name}", seen)
            for name, sub in schema["properties"].items()
        }
    if "items" in schema:
        out["items"] = _convert(schema["items"], defs, tool, f"{path}[]", seen)
    any_of = schema.get("anyOf")
    if isinstance(any_of, list):
        options = [s for s in any_of if not (isinstance(s, Mapping) and s.get("type") == "null")]
        nullable = len(options) < len(any_of)
        if len(options) == 1:
            out = {**_convert(options[0], defs, tool, path, seen), **out}
        else:
            out["anyOf"] = [
                _convert(s, defs, tool, f"{path}|{i}", seen) for i, s in enumerate(options)
            ]
        if nullable:
            out["nullable"] = True
    return out
