"""Output specs: the schema sent for a type, strictness, and errors that name the field."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import attrs
import pytest

from tinyagent.output import output_spec
from tinyagent.output._spec import OutputInvalid

from .test_prompt_output import Movie, Person, Point


@attrs.frozen
class Event:
    title: str
    when: dt.date
    attendees: list[Person]


@pytest.mark.parametrize(
    ("output_type", "wrapped", "strict", "schema"),
    [
        (
            Point,
            False,
            True,
            {
                "type": "object",
                "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                "required": ["x", "y"],
                "additionalProperties": False,
            },
        ),
        (
            Literal["a", "b"],
            True,
            True,
            {
                "type": "object",
                "properties": {"result": {"enum": ["a", "b"]}},
                "required": ["result"],
                "additionalProperties": False,
            },
        ),
        (
            list[int],
            True,
            True,
            {
                "type": "object",
                "properties": {"result": {"type": "array", "items": {"type": "integer"}}},
                "required": ["result"],
                "additionalProperties": False,
            },
        ),
        (
            Movie,
            False,
            True,
            {
                "type": "object",
                "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
                "required": ["title", "year"],
                "additionalProperties": False,
            },
        ),
        (Person, False, False, None),  # tags has a default
        (dict[str, int], True, False, None),  # an open object cannot be strict
        (set[str], True, False, None),  # uniqueItems
    ],
)
def test_schema_table(output_type: Any, wrapped: bool, strict: bool, schema: Any) -> None:
    spec = output_spec(output_type)
    assert spec.wrapped is wrapped and spec.strict is strict
    if schema is not None:
        assert spec.schema == schema
    assert spec.response_format().schema == spec.schema


def test_nested_classes_are_structured() -> None:
    spec = output_spec(Event)
    value = spec.parse(
        '{"title": "launch", "when": "2026-11-26", '
        '"attendees": [{"name": "Ada", "age": 36, "mood": "sad"}]}'
    )
    assert value.when == dt.date(2026, 11, 26)
    assert value.attendees[0].name == "Ada" and value.attendees[0].tags == []


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('{"title": "x", "when": "soon", "attendees": []}', "when"),
        ('{"title": "x", "when": "2026-01-01", "attendees": [{"name": "A"}]}', "attendees/0"),
        ('{"title": 3, "when": "2026-01-01", "attendees": []}', "title"),
        ('{"title": "x", "when": "2026-01-01", "attendees": [], "extra": 1}', "extra"),
        ("[]", "(root)"),
        ("", "empty"),
        ("{", "not valid JSON"),
    ],
)
def test_every_problem_names_the_field(text: str, named: str) -> None:
    with pytest.raises(OutputInvalid) as info:
        output_spec(Event).parse(text)
    assert any(named in p for p in info.value.problems), info.value.problems


def test_an_indescribable_type_fails_naming_it() -> None:
    with pytest.raises(TypeError, match="output type"):
        output_spec(complex)
