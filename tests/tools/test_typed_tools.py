"""Typed function tools: schemas from rich type hints and docstrings, arguments
structured into the annotated types (errors name the field), return values as JSON,
injected parameters the model never sees."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import threading
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

import attrs
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyagent import (
    Agent,
    CancelToken,
    RunContext,
    ToolCallId,
    ToolResultMessage,
    tool,
)
from tinyagent.serde import converter
from tinyagent.testing import LocalServer, ToolCallSpec, text_reply, tool_call_reply


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.frozen
class Point:
    x: float
    y: float = 0.0


@dataclasses.dataclass
class Box:
    corner: Point
    label: str | None = None


class Filter(TypedDict):
    tag: str
    limit: int


@tool
def plan(
    when: dt.datetime,
    day: dt.date,
    ref: uuid.UUID,
    where: Path,
    color: Color,
    mode: Literal["fast", "slow"],
    box: Box,
    points: list[Point],
    pair: tuple[int, str],
    tags: set[str],
    weights: dict[str, float],
    filt: Filter,
    note: Annotated[str, "A free note."] = "",
    count: int | None = None,
) -> dict[str, Any]:
    """Plan something.

    Args:
        when: When it happens.
        box: The box to use.
            It may have a label.
    """
    return {
        "when": when,
        "day": day,
        "ref": ref,
        "where": where,
        "color": color.value,
        "mode": mode,
        "box": box,
        "points": points,
        "pair": pair,
        "tags": sorted(tags),
        "weights": weights,
        "filt": filt,
        "note": note,
        "count": count,
    }


POINT = {
    "type": "object",
    "properties": {"x": {"type": "number"}, "y": {"type": "number", "default": 0.0}},
    "required": ["x"],
    "additionalProperties": False,
}


def test_the_schema_of_rich_hints() -> None:
    props = plan.parameters["properties"]
    assert plan.description == "Plan something."
    assert props["when"] == {
        "type": "string",
        "format": "date-time",
        "description": "When it happens.",
    }
    assert props["day"] == {"type": "string", "format": "date"}
    assert props["ref"] == {"type": "string", "format": "uuid"}
    assert props["where"] == {"type": "string"}
    assert props["color"] == {"enum": ["red", "blue"]}
    assert props["mode"] == {"enum": ["fast", "slow"]}
    assert props["box"] == {
        "type": "object",
        "properties": {
            "corner": POINT,
            "label": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        },
        "required": ["corner"],
        "additionalProperties": False,
        "description": "The box to use. It may have a label.",
    }
    assert props["points"] == {"type": "array", "items": POINT}
    assert props["pair"] == {
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "minItems": 2,
        "maxItems": 2,
    }
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
    assert props["weights"] == {"type": "object", "additionalProperties": {"type": "number"}}
    assert props["filt"]["required"] == ["tag", "limit"]
    assert props["note"] == {"type": "string", "description": "A free note.", "default": ""}
    assert props["count"] == {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}
    assert plan.parameters["required"] == [
        "when", "day", "ref", "where", "color", "mode", "box", "points", "pair", "tags",
        "weights", "filt",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "doc",
    [
        "Do.\n\nArgs:\n    a: First.\n    b (int): Second.\n",
        "Do.\n\nParameters\n----------\na : int\n    First.\nb : int\n    Second.\n",
        "Do.\n\n:param a: First.\n:param int b: Second.\n",
    ],
)
def test_parameter_descriptions_from_each_docstring_style(doc: str) -> None:
    def f(a: int, b: int) -> int:
        return a + b

    f.__doc__ = doc
    t = tool(f)
    assert t.description == "Do."
    assert t.parameters["properties"]["a"]["description"] == "First."
    assert t.parameters["properties"]["b"]["description"] == "Second."


def test_unsupported_hints_fail_when_defined_naming_the_parameter() -> None:
    with pytest.raises(TypeError, match=r"tool bad, argument 'x'.*cannot describe"):

        @tool
        def bad(x: complex) -> str:
            return ""

    with pytest.raises(TypeError, match="JSON object keys are strings"):

        @tool
        def bad_keys(x: dict[int, str]) -> str:
            return ""


ARGS = {
    "when": "2026-11-26T10:00:00",
    "day": "2026-11-27",
    "ref": "12345678-1234-5678-1234-567812345678",
    "where": "/tmp/x",
    "color": "blue",
    "mode": "fast",
    "box": {"corner": {"x": 1, "y": 2}, "label": "b"},
    "points": [{"x": 3}],
    "pair": [1, "one"],
    "tags": ["b", "a"],
    "weights": {"w": 0.5},
    "filt": {"tag": "t", "limit": 3},
}


@pytest.mark.anyio
async def test_arguments_arrive_typed_and_results_go_back_as_json(transport: str) -> None:
    seen: list[Any] = []

    @tool
    def record(box: Box, when: dt.datetime, color: Color, points: list[Point]) -> Box:
        """Record."""
        seen.append((box, when, color, points))
        return box

    args = {k: ARGS[k] for k in ("box", "when", "color", "points")}
    replies = [tool_call_reply([ToolCallSpec("record", args)]), text_reply("ok")]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=[record], stream_options={"transport": transport})
        new = await agent.prompt("go")
    ((box, when, color, points),) = seen
    assert box == Box(Point(1.0, 2.0), "b") and isinstance(box.corner, Point)
    assert when == dt.datetime(2026, 11, 26, 10) and color is Color.BLUE
    assert points == [Point(3.0)]
    (result,) = [m for m in new if isinstance(m, ToolResultMessage)]
    assert not result.is_error
    assert json.loads(result.text) == {"corner": {"x": 1.0, "y": 2.0}, "label": "b"}
    assert result.details == Box(Point(1.0, 2.0), "b")


@pytest.mark.anyio
async def test_a_value_that_cannot_be_read_is_an_error_naming_the_field(transport: str) -> None:
    @tool
    def when(at: dt.datetime) -> str:
        """When."""
        return "never"

    replies = [tool_call_reply([ToolCallSpec("when", {"at": "next tuesday"})]), text_reply("ok")]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=[when], stream_options={"transport": transport})
        new = await agent.prompt("go")
    (result,) = [m for m in new if isinstance(m, ToolResultMessage)]
    assert result.is_error
    assert "argument 'at': 'next tuesday' cannot be read as datetime" in result.text


@pytest.mark.anyio
async def test_injected_parameters_are_never_shown_to_the_model(transport: str) -> None:
    got: dict[str, Any] = {}
    released = threading.Event()

    @tool
    async def whoami(query: str, call: ToolCallId, run: RunContext) -> str:
        """Who."""
        got["call"], got["run"] = call, run
        return "me"

    @tool(timeout=0.1)
    def patient(token: CancelToken) -> str:
        """Waits until told to stop."""
        got["token"] = token
        while not token.is_set():
            released.wait(0.01)
        got["stopped"] = True
        return "stopped"

    assert set(whoami.parameters["properties"]) == {"query"}
    assert patient.parameters["properties"] == {}
    calls = [ToolCallSpec("whoami", {"query": "q"}, id="c-1"), ToolCallSpec("patient", {})]
    replies = [tool_call_reply(calls), text_reply("ok")]
    async with LocalServer(replies) as server:
        agent = Agent(
            server.model(), tools=[whoami, patient], stream_options={"transport": transport}
        )
        new = await agent.prompt("hello")
    assert got["call"] == "c-1"
    run: RunContext = got["run"]
    assert run.messages[0].text == "hello" and run.usage.output > 0
    timed_out = [m for m in new if isinstance(m, ToolResultMessage) and m.tool_name == "patient"]
    assert timed_out[0].is_error and "timed out" in timed_out[0].text
    assert got["token"].is_set()  # the thread was told, and can stop
    released.set()


@st.composite
def boxes(draw: st.DrawFn) -> Box:
    finite = st.floats(allow_nan=False, allow_infinity=False, width=32)
    corner = Point(draw(finite), draw(finite))
    return Box(corner, draw(st.none() | st.text(max_size=5)))


@settings(max_examples=100, deadline=None)
@given(
    box=boxes(),
    when=st.datetimes(),
    color=st.sampled_from(Color),
    ref=st.uuids(),
    tags=st.sets(st.text(max_size=3), max_size=3),
)
def test_values_survive_json_and_the_schema(
    box: Box, when: dt.datetime, color: Color, ref: uuid.UUID, tags: set[str]
) -> None:
    @tool
    def f(box: Box, when: dt.datetime, color: Color, ref: uuid.UUID, tags: set[str]) -> str:
        """F."""
        return ""

    values = {"box": box, "when": when, "color": color, "ref": ref, "tags": tags}
    hints = {"box": Box, "when": dt.datetime, "color": Color, "ref": uuid.UUID, "tags": set[str]}
    data = json.loads(json.dumps({k: converter.unstructure(v) for k, v in values.items()}))
    jsonschema.validate(data, f.parameters)
    back = {k: converter.structure(data[k], hints[k]) for k in values}
    assert back == values
