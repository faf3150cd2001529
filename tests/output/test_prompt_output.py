"""Typed structured output against the local server: native response format and the
final-answer tool, on every wire format, trio and asyncio."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any, Literal, TypedDict

import anyio
import attrs
import pytest

from tinyagent import (
    Agent,
    AssistantMessage,
    OutputError,
    OutputValidationError,
    ToolResultMessage,
    UserMessage,
    tool,
)
from tinyagent.output import FINAL_ANSWER_TOOL
from tinyagent.testing import (
    LocalServer,
    ToolCallSpec,
    anthropic_text_reply,
    anthropic_tool_call_reply,
    error_reply,
    responses_text_reply,
    text_reply,
    tool_call_reply,
)

pytestmark = pytest.mark.anyio


class Mood(enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


@attrs.frozen
class Person:
    name: str
    age: int
    mood: Mood
    tags: list[str] = attrs.Factory(list)


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Movie(TypedDict):
    title: str
    year: int


ADA = {"name": "Ada", "age": 36, "mood": "happy", "tags": ["math"]}


async def test_native_mode_sends_the_schema_and_returns_an_instance(transport: str) -> None:
    async with LocalServer([text_reply(json.dumps(ADA))]) as server:
        agent = Agent(server.model(), stream_options={"transport": transport})
        person = await agent.prompt_output("Who wrote the first program?", Person)
    assert person == Person("Ada", 36, Mood.HAPPY, ["math"])
    fmt = server.requests[0].json["response_format"]
    assert fmt["type"] == "json_schema"
    spec = fmt["json_schema"]
    assert spec["name"] == "Person"
    assert spec["schema"]["required"] == ["name", "age", "mood"]
    assert spec["schema"]["properties"]["mood"] == {"enum": ["happy", "sad"]}
    assert spec["strict"] is False  # tags has a default: not every property required
    assert "tools" not in server.requests[0].json


async def test_a_strict_compatible_type_is_sent_strict() -> None:
    async with LocalServer([text_reply('{"x": 1.5, "y": -2}')]) as server:
        point = await Agent(server.model()).prompt_output("where?", Point)
    assert point == Point(1.5, -2)
    assert server.requests[0].json["response_format"]["json_schema"]["strict"] is True


@pytest.mark.parametrize(
    ("output_type", "answer", "expected"),
    [
        (list[Point], '{"result": [{"x": 1, "y": 2}]}', [Point(1, 2)]),
        (Literal["yes", "no"], '{"result": "no"}', "no"),
        (Movie, '{"title": "Alien", "year": 1979}', {"title": "Alien", "year": 1979}),
        (int, '{"result": 42}', 42),
    ],
)
async def test_other_types_travel_wrapped_in_an_object(
    output_type: Any, answer: str, expected: Any
) -> None:
    async with LocalServer([text_reply(answer)]) as server:
        value = await Agent(server.model()).prompt_output("?", output_type)
    assert value == expected
    schema = server.requests[0].json["response_format"]["json_schema"]["schema"]
    assert schema["type"] == "object"


async def test_a_fenced_answer_is_read() -> None:
    async with LocalServer([text_reply("```json\n" + json.dumps(ADA) + "\n```")]) as server:
        person = await Agent(server.model()).prompt_output("?", Person)
    assert person.name == "Ada"


async def test_invalid_then_corrected(transport: str) -> None:
    bad = {"name": "Ada", "age": "thirty-six", "mood": "happy"}
    replies = [text_reply(json.dumps(bad)), text_reply(json.dumps(ADA))]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), stream_options={"transport": transport})
        person = await agent.prompt_output("?", Person)
    assert person.age == 36
    # the correction went back to the model, naming the field
    second = server.requests[1].json["messages"]
    assert second[-1]["role"] == "user"
    assert "age" in second[-1]["content"] and "integer" in second[-1]["content"]
    assert [type(m) for m in agent.messages] == [
        UserMessage,
        AssistantMessage,
        UserMessage,
        AssistantMessage,
    ]


async def test_invalid_until_give_up_raises_with_the_last_raw_answer() -> None:
    replies = [text_reply("not json at all"), text_reply('{"name": "Ada"}')]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), output_retries=1)
        with pytest.raises(OutputValidationError) as info:
            await agent.prompt_output("?", Person)
    err = info.value
    assert err.raw == '{"name": "Ada"}'
    assert any("age" in p for p in err.problems) and any("mood" in p for p in err.problems)
    assert err.attempts == 2
    assert len(server.requests) == 2


async def test_zero_retries_gives_up_at_once() -> None:
    async with LocalServer([text_reply("[1, 2]")]) as server:
        with pytest.raises(OutputValidationError, match="after 1 attempt"):
            await Agent(server.model()).prompt_output("?", Person, retries=0)
    assert len(server.requests) == 1


async def test_a_failed_run_raises_output_error_not_validation() -> None:
    async with LocalServer([error_reply(400, "bad request")]) as server:
        with pytest.raises(OutputError) as info:
            await Agent(server.model()).prompt_output("?", Person)
    assert not isinstance(info.value, OutputValidationError)
    assert info.value.stop_reason == "error" and "bad request" in str(info.value)


async def test_tool_mode_uses_a_final_answer_tool_and_ends_the_run(transport: str) -> None:
    replies = [tool_call_reply([ToolCallSpec(FINAL_ANSWER_TOOL, ADA)])]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), output_mode="tool", stream_options={"transport": transport})
        person = await agent.prompt_output("?", Person)
    assert person == Person("Ada", 36, Mood.HAPPY, ["math"])
    body = server.requests[0].json
    assert "response_format" not in body
    (fn,) = [t["function"] for t in body["tools"]]
    assert fn["name"] == FINAL_ANSWER_TOOL and fn["parameters"]["required"] == [
        "name",
        "age",
        "mood",
    ]
    assert len(server.requests) == 1  # the answer ended the run: no second model call
    assert isinstance(agent.messages[-1], ToolResultMessage)


async def test_tool_mode_wrong_answer_is_an_error_result_then_corrected() -> None:
    replies = [
        tool_call_reply([ToolCallSpec(FINAL_ANSWER_TOOL, {"name": "Ada", "age": -1.5})]),
        tool_call_reply([ToolCallSpec(FINAL_ANSWER_TOOL, ADA)]),
    ]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), output_mode="tool")
        person = await agent.prompt_output("?", Person)
    assert person.name == "Ada"
    tool_message = server.requests[1].json["messages"][-1]
    assert tool_message["role"] == "tool"
    assert "age" in tool_message["content"] and "mood" in tool_message["content"]


async def test_tool_mode_gives_up_after_the_retries() -> None:
    wrong = tool_call_reply([ToolCallSpec(FINAL_ANSWER_TOOL, {"name": 3})])
    async with LocalServer([wrong, wrong, text_reply("unused")]) as server:
        with pytest.raises(OutputValidationError) as info:
            await Agent(server.model(), output_mode="tool", output_retries=1).prompt_output(
                "?", Person
            )
    assert json.loads(info.value.raw or "") == {"name": 3}
    assert len(server.requests) == 2


async def test_tool_mode_a_text_reply_is_asked_to_use_the_tool() -> None:
    replies = [text_reply("Ada, 36, happy"), tool_call_reply([(FINAL_ANSWER_TOOL, ADA)])]
    async with LocalServer(replies) as server:
        person = await Agent(server.model(), output_mode="tool").prompt_output("?", Person)
    assert person.age == 36
    assert FINAL_ANSWER_TOOL in server.requests[1].json["messages"][-1]["content"]


async def test_anthropic_defaults_to_the_tool() -> None:
    replies = [anthropic_tool_call_reply([ToolCallSpec(FINAL_ANSWER_TOOL, ADA)])]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(api="anthropic-messages"))
        person = await agent.prompt_output("?", Person)
    assert person.mood is Mood.HAPPY
    assert [t["name"] for t in server.requests[0].json["tools"]] == [FINAL_ANSWER_TOOL]


async def test_anthropic_native_mode_is_refused_clearly() -> None:
    async with LocalServer([anthropic_text_reply("{}")]) as server:
        agent = Agent(server.model(api="anthropic-messages"), output_mode="native")
        with pytest.raises(OutputError, match="response_format is not sent to anthropic"):
            await agent.prompt_output("?", Person)


async def test_responses_native_mode_uses_text_format() -> None:
    async with LocalServer([responses_text_reply(json.dumps(ADA))]) as server:
        person = await Agent(server.model(api="openai-responses")).prompt_output("?", Person)
    assert person.age == 36
    fmt = server.requests[0].json["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["name"] == "Person"


async def test_other_tools_run_before_the_answer() -> None:
    @tool
    def lookup(name: str) -> str:
        """Find a person."""
        return "Ada Lovelace, 36, cheerful"

    replies = [
        tool_call_reply([("lookup", {"name": "Ada"})]),
        text_reply(json.dumps(ADA)),
    ]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=[lookup], output_type=Person)
        person = await agent.prompt_output("?")
    assert person.age == 36
    assert [t["function"]["name"] for t in server.requests[0].json["tools"]] == ["lookup"]


async def test_prompt_keeps_returning_messages_with_an_output_type() -> None:
    async with LocalServer([text_reply("hello")]) as server:
        agent = Agent(server.model(), output_type=Person)
        new = await agent.prompt("hi")
    assert isinstance(new[-1], AssistantMessage) and new[-1].text == "hello"
    assert "response_format" not in server.requests[0].json


async def test_an_agent_with_an_output_type_hands_typed_results_to_its_caller() -> None:
    replies = [
        tool_call_reply([("researcher", {"task": "who?"})]),
        text_reply(json.dumps(ADA)),  # the sub-agent's answer
        text_reply("done"),
    ]
    async with LocalServer(replies) as server:
        researcher = Agent(server.model(), output_type=Person)
        boss = Agent(server.model(), tools=[researcher.as_tool("researcher", "Finds people.")])
        new = await boss.prompt("find someone")
    (result,) = [m for m in new if isinstance(m, ToolResultMessage)]
    assert result.details == Person("Ada", 36, Mood.HAPPY, ["math"])
    assert json.loads(result.text) == ADA


async def test_no_output_type_is_a_clear_error() -> None:
    async with LocalServer([]) as server:
        with pytest.raises(Exception, match="no output type"):
            await Agent(server.model()).prompt_output("?")


async def test_bad_output_options_fail_at_construction() -> None:
    with pytest.raises(ValueError, match="output_retries"):
        Agent(output_retries=-1)
    with pytest.raises(ValueError, match="output_mode"):
        Agent(output_mode="json")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="output type"):
        Agent(output_type=object)


async def test_abort_while_answering_raises_output_error() -> None:
    slow = text_reply(json.dumps(ADA), chunk_size=2, chunk_delay=0.05)
    async with LocalServer([slow]) as server:
        agent = Agent(server.model())

        async def stop() -> None:
            await anyio.sleep(0.2)
            agent.abort()

        async with anyio.create_task_group() as tg:
            tg.start_soon(stop)
            with pytest.raises(OutputError) as info:
                await agent.prompt_output("?", Person)
    assert info.value.stop_reason == "aborted"


@pytest.mark.parametrize("arguments", ['{"name": "Ada", "age": ', '{"name": 3}'])
async def test_tool_mode_with_no_retries_stops_at_the_first_wrong_answer(arguments: str) -> None:
    """Arguments that do not parse, or that parse and do not match: with no retries the
    first answer is the last, one request, and ``raw`` is that answer."""
    wrong = tool_call_reply([ToolCallSpec(FINAL_ANSWER_TOOL, arguments)])
    async with LocalServer([wrong, text_reply("never sent")]) as server:
        with pytest.raises(OutputValidationError) as info:
            await Agent(server.model(), output_mode="tool", output_retries=0).prompt_output(
                "?", Person
            )
        assert len(server.requests) == 1
    assert info.value.attempts == 1
    if arguments.endswith(" "):  # unparsable: kept as the model wrote it
        assert info.value.raw == arguments and "could not" in str(info.value).lower()
    else:
        assert json.loads(info.value.raw or "") == json.loads(arguments)
