"""Hints that used to be accepted and then fail every call (issue 21, items 6–8):
unions of scalars and of classes are read member by member; positional-only
parameters are passed by position; a Literal or Enum a model cannot write in JSON is
refused when the tool is defined. End to end through an agent, on trio and asyncio."""

from __future__ import annotations

import dataclasses
import enum
import json
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest

from tinyagent import Agent, ToolResultMessage, tool
from tinyagent.testing import LocalServer, ToolCallSpec, text_reply, tool_call_reply

pytestmark = pytest.mark.anyio


@attrs.frozen
class Square:
    side: float


@dataclasses.dataclass
class Circle:
    radius: float


@tool
def describe(
    value: int | str,
    where: Path | None = None,
    shape: Square | Circle | None = None,
    tags: list[int | str] | None = None,
    choice: Literal["a", "b"] | int = "a",
) -> str:
    """Say what came in, with its Python types."""
    return json.dumps(
        {
            "value": [type(value).__name__, value],
            "where": repr(where),
            "shape": repr(shape),
            "tags": [type(t).__name__ for t in tags or []],
            "choice": repr(choice),
        }
    )


@tool
def scale(x: float, factor: float = 2.0, /, *, label: str = "") -> str:
    """Positional-only parameters, as many builtins have them."""
    return f"{label}{x * factor}"


async def run(tool_: Any, args: dict[str, Any]) -> ToolResultMessage:
    replies = [tool_call_reply([ToolCallSpec(tool_.name, args, "c1")]), text_reply("done")]
    async with LocalServer(replies) as server:
        messages = await Agent(server.model(), tools=[tool_]).prompt("go")
    (result,) = [m for m in messages if isinstance(m, ToolResultMessage)]
    return result


async def test_unions_of_scalars_and_classes_are_read_by_their_members() -> None:
    args = {
        "value": 5, "where": "/tmp/x", "shape": {"radius": 2},
        "tags": [1, "two"], "choice": 7,
    }  # fmt: skip
    result = await run(describe, args)
    assert not result.is_error, result.text
    got = json.loads(result.text)
    assert got["value"] == ["int", 5] and got["where"] == "PosixPath('/tmp/x')"
    assert got["shape"] == "Circle(radius=2.0)" and got["tags"] == ["int", "str"]
    assert got["choice"] == "7"
    got = json.loads((await run(describe, {"value": "5", "shape": {"side": 1}})).text)
    assert got["value"] == ["str", "5"] and got["shape"] == "Square(side=1.0)"


async def test_a_value_no_member_takes_is_the_call_s_error_naming_them() -> None:
    # The schema check answers the model first...
    result = await run(describe, {"value": 5.5})
    assert (
        result.is_error and "value: 5.5 is not valid under any of the given schemas" in result.text
    )
    # ...and reading the value refuses it too, naming the members.
    with pytest.raises(Exception, match=r"argument 'value': 5.5 cannot be read as int \| str"):
        await describe.execute("c1", {"value": 5.5}, None)  # type: ignore[arg-type]
    with pytest.raises(Exception, match=r"True is none of int \| str"):  # a bool is no int
        await describe.execute("c1", {"value": True}, None)  # type: ignore[arg-type]


async def test_positional_only_parameters_are_passed_by_position() -> None:
    assert scale.parameters["required"] == ["x"]
    assert (await run(scale, {"x": 3, "label": "="})).text == "=6.0"
    assert (await run(scale, {"x": 3, "factor": 10})).text == "30.0"


@pytest.mark.parametrize(
    ("hint", "shown"),
    [(Literal[b"x"], "b'x'"), (Literal["a", 1.5j], "1.5j")],
)
def test_a_literal_a_model_cannot_write_is_refused_at_definition(hint: Any, shown: str) -> None:
    def pick(x: Any) -> str:
        """Pick."""
        return str(x)

    pick.__annotations__["x"] = hint
    with pytest.raises(TypeError, match=f"cannot send in JSON \\({shown}\\)"):
        tool(pick)


class Raw(enum.Enum):
    A = b"a"


def test_an_enum_of_non_json_values_is_refused_at_definition() -> None:
    def pick(x: Raw) -> str:
        """Pick."""
        return str(x)

    with pytest.raises(TypeError, match="the Enum Raw has values a model cannot send in JSON"):
        tool(pick)


@tool
def odd() -> object:
    """Return something JSON has no word for."""
    return {1, 2j}


async def test_a_result_that_is_not_json_says_so_without_blaming_the_tool() -> None:
    result = await run(odd, {})
    assert result.is_error
    assert result.text.startswith("The tool ran, but its result could not be sent: a set ")
    assert "failed" not in result.text
