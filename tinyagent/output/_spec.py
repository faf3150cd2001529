"""What a structured answer must look like, and how raw JSON becomes the asked-for type.

The schema comes from the same type-hint reader as function tools, so an attrs class
means the same thing as a tool parameter and as an answer. Providers take only an
object at the root, so any other type (a list, a ``Literal``, a ``str``) travels wrapped
as ``{"result": ...}`` and is unwrapped on the way back.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import attrs
import cattrs
import jsonschema

from .._util.json import loads
from ..serde import converter
from ..tools import schema_of
from ..wire import ResponseFormat

__all__ = ["OutputInvalid", "OutputSpec", "output_spec"]

T = TypeVar("T")

WRAP_KEY = "result"
_FENCE = re.compile(r"\A\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n\s*```\s*\Z", re.DOTALL)
_UNSTRICT = ("default", "uniqueItems", "prefixItems", "minItems", "maxItems")


class OutputInvalid(Exception):
    """An answer that is not the asked-for type; ``problems`` are lines a model can act on."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _type_name(t: Any) -> str:
    name = getattr(t, "__name__", None)
    return name if isinstance(name, str) else re.sub(r"[^A-Za-z0-9_-]", "_", repr(t))[:48]


def _strict_ok(schema: Any) -> bool:
    """Whether OpenAI's strict mode accepts ``schema``: every object closed with all its
    properties required, and none of the keywords strict mode rejects."""
    if isinstance(schema, list):
        return all(_strict_ok(s) for s in schema)
    if not isinstance(schema, Mapping):
        return True
    if any(k in schema for k in _UNSTRICT):
        return False
    if schema.get("type") == "object":
        props = schema.get("properties")
        if props is None or schema.get("additionalProperties") is not False:
            return False
        if set(schema.get("required", ())) != set(props):
            return False
    return all(_strict_ok(v) for k, v in schema.items() if k not in ("enum", "const"))


def _problems_of(exc: Exception) -> list[str]:
    if isinstance(exc, cattrs.BaseValidationError):
        return [line.replace("$.", "", 1) for line in cattrs.transform_error(exc, path="$")]
    return [f"{type(exc).__name__}: {exc}"]


@attrs.frozen
class OutputSpec(Generic[T]):
    """The answer's type, its (root-object) schema and whether it travels wrapped."""

    type: Any
    name: str
    schema: dict[str, Any]
    wrapped: bool
    strict: bool
    _validator: Any = attrs.field(eq=False, repr=False)

    def response_format(self) -> ResponseFormat:
        return ResponseFormat(self.name, self.schema, strict=self.strict)

    def unwrap(self, data: Any) -> Any:
        """The answer part of a (possibly partial) JSON value."""
        if not self.wrapped:
            return data
        return data.get(WRAP_KEY) if isinstance(data, dict) else None

    def check(self, data: Any) -> T:
        """``data`` (parsed JSON) as a ``T``, or :class:`OutputInvalid` naming each field
        that is wrong and what was expected."""
        errors = sorted(self._validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        if errors:
            problems = []
            for err in errors:
                path = [str(p) for p in err.absolute_path]
                if self.wrapped and path[:1] == [WRAP_KEY]:
                    path = path[1:]
                problems.append(f"{'/'.join(path) or '(root)'}: {err.message}")
            raise OutputInvalid(problems)
        value = self.unwrap(data)
        if self.type is Any:
            return typing.cast(T, value)
        try:
            return typing.cast(T, converter.structure(value, self.type))
        except Exception as exc:
            raise OutputInvalid(_problems_of(exc)) from None

    def parse(self, text: str) -> T:
        """A reply's text (JSON, or JSON in one Markdown code fence) as a ``T``."""
        fenced = _FENCE.match(text)
        body = fenced.group(1) if fenced else text
        if not body.strip():
            raise OutputInvalid(["(root): the reply was empty; expected JSON"])
        try:
            data = loads(body)
        except ValueError as exc:
            raise OutputInvalid([f"(root): the reply is not valid JSON ({exc})"]) from None
        return self.check(data)


def output_spec(output_type: Any, name: str | None = None) -> OutputSpec[Any]:
    """The spec of ``output_type``; a type that cannot be described fails here, naming it."""
    if isinstance(output_type, OutputSpec):
        return output_type
    inner = schema_of(output_type, f"output type {_type_name(output_type)}")
    wrapped = inner.get("type") != "object" or "properties" not in inner
    schema = (
        {
            "type": "object",
            "properties": {WRAP_KEY: inner},
            "required": [WRAP_KEY],
            "additionalProperties": False,
        }
        if wrapped
        else inner
    )
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return OutputSpec(
        output_type,
        name or _type_name(output_type),
        schema,
        wrapped,
        _strict_ok(schema),
        cls(schema, format_checker=cls.FORMAT_CHECKER),
    )
