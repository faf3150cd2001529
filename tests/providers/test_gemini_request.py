"""The Gemini request: URL and key header, roles and merged turns, function declarations
in Gemini's schema subset, generation and thinking config, structured output, and
thought signatures sent back on the part they came with, to their own model only."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import tinyagent
from tinyagent import (
    AssistantMessage,
    Context,
    ImageContent,
    Model,
    StopReason,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)
from tinyagent.providers import GeminiSchemaError, get_provider
from tinyagent.testing import LocalServer, gemini_text_reply, gemini_tool_call_reply
from tinyagent.wire import ResponseFormat, StreamOptions

GEMINI = Model.from_name("gemini:gemini-2.5-flash", api_key="AIza-secret")
PROVIDER = get_provider("google-gemini")


def body_of(context: Context, model: Model = GEMINI, **options: Any) -> dict[str, Any]:
    request = PROVIDER.build_request(model, context, StreamOptions(**options), None)
    return json.loads(request.body)


def reply(
    *content: Any, model: Model = GEMINI, stop: StopReason = StopReason.TOOL_USE
) -> AssistantMessage:
    return AssistantMessage(
        tuple(content), stop, model=model.id, provider=model.provider_name, api=model.api
    )


def test_url_and_key_header_and_no_key_in_the_url() -> None:
    request = PROVIDER.build_request(
        GEMINI, Context(messages=[UserMessage("hi")]), StreamOptions(), None
    )
    assert request.url == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash"
        ":streamGenerateContent?alt=sse"
    )
    assert request.headers["x-goog-api-key"] == "AIza-secret"
    assert "authorization" not in request.headers and "AIza" not in request.url


def test_roles_system_and_merged_turns() -> None:
    ctx = Context(
        "Be brief.",
        [
            UserMessage("one"),
            UserMessage([TextContent("two"), ImageContent("aGk=", "image/jpeg")]),
            reply(TextContent("answer"), stop=StopReason.STOP),
            UserMessage("   "),  # nothing to send
            UserMessage(images=None, content="three") if False else UserMessage("three"),
        ],
    )
    body = body_of(ctx)
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [
            {"text": "one"}, {"text": "two"},
            {"inlineData": {"mimeType": "image/jpeg", "data": "aGk="}},
        ]},
        {"role": "model", "parts": [{"text": "answer"}]},
        {"role": "user", "parts": [{"text": "three"}]},
    ]  # fmt: skip


def test_signatures_go_back_on_their_part_to_their_own_model_only() -> None:
    answer = reply(
        ThinkingContent("plan", "T1"),
        ThinkingContent("", "S1", redacted=True),
        ToolCall("call_0", "f", {"x": 1}),
        ToolCall("call_1", "g", {}),
        ThinkingContent("", "S2", redacted=True),
    )
    results = [
        ToolResultMessage("call_0", "f", [TextContent('{"ok": true}')]),
        ToolResultMessage("call_1", "g", [TextContent("boom")], is_error=True),
    ]
    ctx = Context(messages=[UserMessage("go"), answer, *results])
    assert body_of(ctx)["contents"][1:] == [
        {"role": "model", "parts": [
            {"text": "plan", "thought": True, "thoughtSignature": "T1"},
            {"functionCall": {"name": "f", "args": {"x": 1}}, "thoughtSignature": "S1"},
            {"functionCall": {"name": "g", "args": {}}},
            {"text": "", "thoughtSignature": "S2"},
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "f", "response": {"ok": True}}},
            {"functionResponse": {"name": "g", "response": {"error": "boom"}}},
        ]},
    ]  # fmt: skip
    other = Model.from_name("gemini:gemini-2.5-pro", api_key="k")
    assert body_of(ctx, other)["contents"][1]["parts"] == [
        {"functionCall": {"name": "f", "args": {"x": 1}}},
        {"functionCall": {"name": "g", "args": {}}},
    ]


def test_a_half_received_call_is_never_replayed_nor_its_result() -> None:
    cut = reply(
        TextContent("let me"),
        ToolCall("call_0", "f", {}, raw_arguments='{"x": ', arguments_error="cut"),
        stop=StopReason.ABORTED,
    )
    ctx = Context(
        messages=[
            UserMessage("go"),
            cut,
            ToolResultMessage("call_0", "f", [TextContent("aborted")], is_error=True),
        ]
    )
    assert body_of(ctx)["contents"][1:] == [{"role": "model", "parts": [{"text": "let me"}]}]


def test_tools_in_geminis_schema_subset() -> None:
    schema = {
        "type": "object",
        "$defs": {"Unit": {"type": "string", "enum": ["km", "mi"]}},
        "properties": {
            "unit": {"$ref": "#/$defs/Unit", "description": "the unit"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "kind": {"const": "distance"},
            "n": {"type": ["integer", "null"]},
        },
        "required": ["unit"],
        "additionalProperties": False,
        "title": "Args",
    }
    body = body_of(
        Context(tools=[ToolDefinition("convert", "Convert.", schema)], messages=[UserMessage("x")])
    )
    (declaration,) = body["tools"][0]["functionDeclarations"]
    assert declaration == {
        "name": "convert",
        "description": "Convert.",
        "parameters": {
            "type": "object",
            "properties": {
                "unit": {"type": "string", "enum": ["km", "mi"], "description": "the unit"},
                "note": {"type": "string", "default": None, "nullable": True},
                "kind": {"type": "string", "enum": ["distance"]},
                "n": {"type": "integer", "nullable": True},
            },
            "required": ["unit"],
        },
    }
    no_args = body_of(
        Context(
            tools=[ToolDefinition("now", "Now.", {"type": "object", "properties": {}})],
            messages=[UserMessage("x")],
        )
    )
    assert no_args["tools"][0]["functionDeclarations"] == [{"name": "now", "description": "Now."}]


@pytest.mark.parametrize(
    ("schema", "says"),
    [
        (
            {
                "type": "object",
                "properties": {"x": {"$ref": "#/$defs/N"}},
                "$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}},
            },
            "refers to itself ($ref 'N')",
        ),
        (
            {
                "type": "object",
                "properties": {"x": {"oneOf": [{"type": "string"}, {"type": "integer"}]}},
            },
            "parameters.x uses oneOf",
        ),
        (
            {"type": "object", "properties": {"x": {"type": ["string", "integer"]}}},
            "Gemini takes one type",
        ),
    ],
)
def test_what_gemini_cannot_express_is_refused_naming_where(
    schema: dict[str, Any], says: str
) -> None:
    with pytest.raises(GeminiSchemaError, match="tool 't'") as caught:
        body_of(Context(tools=[ToolDefinition("t", "T.", schema)], messages=[UserMessage("x")]))
    assert says in str(caught.value)


def test_generation_thinking_structured_output_and_tool_choice() -> None:
    ctx = Context(
        messages=[UserMessage("x")], tools=[ToolDefinition("f", "F.", {"type": "object"})]
    )
    fmt = ResponseFormat("City", {"type": "object", "properties": {"name": {"type": "string"}}})
    body = body_of(ctx, temperature=0.2, max_tokens=300, reasoning_effort="low",
                   response_format=fmt, tool_choice={"type": "function", "function": {"name": "f"}})  # fmt: skip
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "maxOutputTokens": 300,
        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 2048},
        "responseMimeType": "application/json",
        "responseJsonSchema": fmt.schema,
    }
    assert body["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}
    }
    three = Model.from_name("gemini:gemini-3-pro-preview", api_key="k")
    assert body_of(ctx, three, reasoning_effort="high")["generationConfig"]["thinkingConfig"] == {
        "includeThoughts": True, "thinkingLevel": "high"}  # fmt: skip
    assert body_of(ctx, reasoning_effort="none")["generationConfig"]["thinkingConfig"] == {
        "thinkingBudget": 0
    }
    assert (
        body_of(ctx, reasoning_effort="5000")["generationConfig"]["thinkingConfig"][
            "thinkingBudget"
        ]
        == 5000
    )
    assert body_of(ctx, tool_choice="required")["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY"}
    }
    with pytest.raises(ValueError, match="reasoning_effort 'lots'"):
        body_of(ctx, reasoning_effort="lots")


def test_gemini_and_google_names_and_their_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", "g")
    model = Model.from_name("google:gemini-2.5-pro")
    assert model.api == "google-gemini" and model.api_key_env == "GOOGLE_API_KEY"
    assert model.cost is not None and model.cost.tiers  # long-context price tier
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    assert Model.from_name("gemini:gemini-2.5-pro").api_key_env == "GEMINI_API_KEY"


@pytest.mark.anyio
async def test_a_tool_loop_sends_the_signed_call_back_and_the_result_as_a_function_response(
    transport: str,
) -> None:
    @tinyagent.tool
    def add(a: float, b: float) -> float:
        """Add two numbers."""
        return a + b

    replies = [
        gemini_tool_call_reply([("add", {"a": 2, "b": 40})], signature="SIG"),
        gemini_text_reply("42"),
    ]
    async with LocalServer(replies) as server:
        model = server.model("gemini-2.5-flash", api="google-gemini", api_key="k")
        options = {"transport": transport, "max_retries": 0}
        agent = tinyagent.Agent(model, tools=[add], stream_options=options)
        assert await agent.prompt_text("What is 2 + 40?") == "42"
        second = server.requests[1].json
        assert server.requests[0].headers["x-goog-api-key"] == "k"
    assert second["contents"] == [
        {"role": "user", "parts": [{"text": "What is 2 + 40?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "add", "args": {"a": 2, "b": 40}}, "thoughtSignature": "SIG"}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "add", "response": {"result": "42.0"}}}]},
    ]  # fmt: skip
    assert agent.state.messages[1].stop_reason == "tool_use"  # STOP with calls: a tool turn


def test_images_inline_by_data_url_and_by_uri() -> None:
    ctx = Context(
        messages=[
            UserMessage(
                [
                    ImageContent(url="data:image/webp;base64,UklG"),
                    ImageContent(url="https://example.com/cat.png", mime_type="image/png"),
                    ImageContent("aGk=", "image/gif"),
                ]
            )
        ]
    )
    assert body_of(ctx)["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "image/webp", "data": "UklG"}},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.png"}},
        {"inlineData": {"mimeType": "image/gif", "data": "aGk="}},
    ]
    result = ToolResultMessage("c", "shot", [TextContent("see"), ImageContent("aGk=", "image/png")])
    parts = body_of(Context(messages=[UserMessage("x"), result]))["contents"][0]["parts"]
    assert parts[1:] == [
        {"functionResponse": {"name": "shot", "response": {"result": "see"}}},
        {"inlineData": {"mimeType": "image/png", "data": "aGk="}},
    ]


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"functionCallingConfig": {"mode": "AUTO"}}),
        ("none", {"functionCallingConfig": {"mode": "NONE"}}),
        ("any", {"functionCallingConfig": {"mode": "ANY"}}),
        ("required", {"functionCallingConfig": {"mode": "ANY"}}),
        ({"name": "f"}, {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}}),
    ],
)
def test_tool_choice(choice: Any, config: dict[str, Any]) -> None:
    assert body_of(Context(messages=[UserMessage("x")]), tool_choice=choice)["toolConfig"] == config


@pytest.mark.parametrize(
    ("choice", "says"),
    [
        ("sometimes", "tool_choice 'sometimes': use auto, required (any), none or a tool"),
        ({"type": "function", "function": {}}, "name the tool"),
        ({"type": "function", "function": "f"}, "name the tool"),
        ({"name": ""}, "name the tool"),
    ],
)
def test_a_tool_choice_gemini_cannot_take_is_refused(choice: Any, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        body_of(Context(messages=[UserMessage("x")]), tool_choice=choice)


@pytest.mark.parametrize(
    ("model_id", "effort", "config"),
    [
        ("gemini-2.5-flash", "minimal", {"includeThoughts": True, "thinkingBudget": 512}),
        ("gemini-2.5-flash", "xhigh", {"includeThoughts": True, "thinkingBudget": 24576}),
        ("gemini-2.5-flash", "off", {"thinkingBudget": 0}),
        ("gemini-3-flash", "xhigh", {"includeThoughts": True, "thinkingLevel": "high"}),
        ("gemini-3-flash", "minimal", {"includeThoughts": True, "thinkingLevel": "minimal"}),
        ("models/gemini-3-pro", "low", {"includeThoughts": True, "thinkingLevel": "low"}),
        ("gemini-3-pro", "disabled", {"thinkingBudget": 0}),
    ],
)
def test_thinking_per_family(model_id: str, effort: str, config: dict[str, Any]) -> None:
    model = Model(model_id, "https://g/v1beta", api="google-gemini", api_key="k")
    body = body_of(Context(messages=[UserMessage("x")]), model, reasoning_effort=effort)
    assert body["generationConfig"] == {"thinkingConfig": config}


def test_gemini_3_takes_a_level_not_a_budget() -> None:
    model = Model("gemini-3-pro", "https://g/v1beta", api="google-gemini", api_key="k")
    with pytest.raises(
        ValueError, match="Gemini 3 takes a level, one of minimal, low, medium, high, xhigh"
    ):
        body_of(Context(messages=[UserMessage("x")]), model, reasoning_effort="4000")


def test_a_models_prefix_is_not_doubled_and_options_are_left_out_when_unset() -> None:
    model = Model("models/gemini-2.5-pro", "https://g/v1beta/", api="google-gemini", api_key="k")
    request = PROVIDER.build_request(
        model, Context(messages=[UserMessage("x")]), StreamOptions(), None
    )
    assert request.url == "https://g/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    body = json.loads(request.body)
    assert set(body) == {"contents"}  # no system, tools, config: nothing asked for
    extra = body_of(Context(messages=[UserMessage("x")]), extra_body={"safetySettings": []})
    assert extra["safetySettings"] == []
    limited = Model("gemini-x", "https://g/v1beta", api="google-gemini", api_key="k", max_tokens=77)
    assert body_of(Context(messages=[UserMessage("x")]), limited)["generationConfig"] == {
        "maxOutputTokens": 77
    }


def test_a_result_that_is_json_but_not_an_object_goes_under_result() -> None:
    for text, response in [
        ("[1, 2]", {"result": "[1, 2]"}),
        ("7", {"result": "7"}),
        ('{"a": 1}', {"a": 1}),
    ]:
        msg = ToolResultMessage("c", "f", [TextContent(text)])
        parts = body_of(Context(messages=[UserMessage("x"), msg]))["contents"][0]["parts"]
        assert parts[1]["functionResponse"]["response"] == response
    error = ToolResultMessage("c", "f", [TextContent('{"a": 1}')], is_error=True)
    parts = body_of(Context(messages=[UserMessage("x"), error]))["contents"][0]["parts"]
    assert parts[1]["functionResponse"]["response"] == {"error": '{"a": 1}'}


def gemini_parameters(schema: dict[str, Any]) -> dict[str, Any]:
    body = body_of(Context(tools=[ToolDefinition("t", "T.", schema)], messages=[UserMessage("x")]))
    return body["tools"][0]["functionDeclarations"][0]["parameters"]


def test_more_of_the_schema_conversion() -> None:
    # no "type" at the top: an object; "definitions" as well as "$defs"; one allOf inlined
    schema = {
        "properties": {
            "a": {"$ref": "#/definitions/A"},
            "b": {"allOf": [{"type": "integer", "minimum": 1}], "description": "count"},
            "c": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "d": {"type": "array", "items": {"$ref": "#/definitions/A"}},
            "e": {"enum": ["x", "y"]},
        },
        "definitions": {"A": {"type": "string", "format": "date"}},
    }
    assert gemini_parameters(schema) == {
        "type": "object",
        "properties": {
            "a": {"type": "string", "format": "date"},
            "b": {"type": "integer", "minimum": 1, "description": "count"},
            "c": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "d": {"type": "array", "items": {"type": "string", "format": "date"}},
            "e": {"type": "string", "enum": ["x", "y"]},
        },
    }


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"type": "object", "properties": {"x": {"$ref": "#/$defs/Nope"}}},
            "tool 't': parameters.x refers to an unknown $ref 'Nope'",
        ),
        (
            {
                "type": "object",
                "properties": {"x": {"allOf": [{"type": "string"}, {"minLength": 1}]}},
            },
            "tool 't': parameters.x uses allOf with several schemas, which Gemini's function "
            "declarations cannot express",
        ),
        (
            {"type": "object", "properties": {"x": {"not": {}, "oneOf": []}}},
            "tool 't': parameters.x uses not, oneOf, which Gemini's function declarations cannot express",
        ),
        (
            {
                "$defs": {"N": {"type": "object", "properties": {"n": {"$ref": "#/$defs/N"}}}},
                "$ref": "#/$defs/N",
            },
            "tool 't': parameters.n refers to itself ($ref 'N'); Gemini's function declarations "
            "cannot express a recursive schema",
        ),
        (
            {"type": "object", "properties": {"x": {"type": ["string", "integer", "null"]}}},
            "tool 't': parameters.x has type ['string', 'integer', 'null']; Gemini takes one type (and null)",
        ),
    ],
)
def test_each_refusal_names_the_tool_the_path_and_the_reason(
    schema: dict[str, Any], message: str
) -> None:
    with pytest.raises(GeminiSchemaError) as caught:
        gemini_parameters(schema)
    assert str(caught.value) == message


def test_signatures_that_follow_each_other_each_keep_a_part() -> None:
    answer = reply(
        ThinkingContent("", "S1", redacted=True),
        ThinkingContent("", "S2", redacted=True),
        TextContent(""),
        TextContent("hi"),
        stop=StopReason.STOP,
    )
    parts = body_of(Context(messages=[UserMessage("x"), answer]))["contents"][1]["parts"]
    assert parts == [
        {"text": "", "thoughtSignature": "S1"},
        {"text": "", "thoughtSignature": "S2"},
        {"text": "hi"},
    ]


def test_the_calls_after_a_cut_one_and_a_whole_reply_with_bad_arguments() -> None:
    cut = reply(
        ToolCall("c0", "f", {}, raw_arguments="{", arguments_error="cut"),
        ToolCall("c1", "g", {"a": 1}),
        stop=StopReason.ERROR,
    )
    parts = body_of(Context(messages=[UserMessage("x"), cut]))["contents"][1]["parts"]
    assert parts == [{"functionCall": {"name": "g", "args": {"a": 1}}}]
    whole = reply(ToolCall("c0", "f", {}, raw_arguments="{bad", arguments_error="bad"))
    parts = body_of(Context(messages=[UserMessage("x"), whole]))["contents"][1]["parts"]
    assert parts == [{"functionCall": {"name": "f", "args": {}}}]


def test_a_result_of_several_text_parts_is_one_text() -> None:
    result = ToolResultMessage("c", "f", [TextContent("a"), TextContent("b")])
    parts = body_of(Context(messages=[UserMessage("x"), result]))["contents"][0]["parts"]
    assert parts[1] == {"functionResponse": {"name": "f", "response": {"result": "ab"}}}


def test_the_words_of_each_refusal() -> None:
    class Note:
        role = "note"

    with pytest.raises(TypeError) as caught:
        body_of(Context(messages=[UserMessage("x"), Note()]))  # type: ignore[list-item]
    assert str(caught.value) == "cannot send a Note to a google-gemini model; convert it first"
    with pytest.raises(ValueError, match="reasoning_effort") as refused:
        body_of(Context(messages=[UserMessage("x")]), reasoning_effort="lots")
    assert str(refused.value) == (
        "reasoning_effort 'lots': use one of minimal, low, medium, high, xhigh, none, or a "
        "token budget such as '4000'"
    )
    model = Model("gemini-x", "https://g/v1beta", api="google-gemini", api_key="k")
    config = body_of(Context(messages=[UserMessage("x")]), model, reasoning_effort="5000")
    assert config["generationConfig"] == {
        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 5000}
    }


def test_only_slashes_are_trimmed_from_the_endpoint() -> None:
    model = Model("gemini-x", "https://gateway.example/geminiX/", api="google-gemini", api_key="k")
    request = PROVIDER.build_request(
        model, Context(messages=[UserMessage("x")]), StreamOptions(), None
    )
    assert (
        request.url
        == "https://gateway.example/geminiX/models/gemini-x:streamGenerateContent?alt=sse"
    )


def test_refs_inside_every_kind_of_nesting() -> None:
    schema = {
        "type": "object",
        "$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"type": "string"}},
        "properties": {
            "a": {"$ref": "#/$defs/A"},
            "b": {"allOf": [{"$ref": "#/$defs/B"}]},
            "d": {"anyOf": [{"$ref": "#/$defs/B"}, {"type": "null"}]},
            "e": {"anyOf": [{"$ref": "#/$defs/B"}, {"type": "integer"}]},
            "f": {"type": "integer", "enum": [1, 2]},
        },
    }
    assert gemini_parameters(schema)["properties"] == {
        "a": {"type": "string"},
        "b": {"type": "string"},
        "d": {"type": "string", "nullable": True},
        "e": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "f": {"type": "integer", "enum": [1, 2]},
    }


@pytest.mark.parametrize(
    ("prop", "path"),
    [
        ({"type": "array", "items": {"oneOf": []}}, "parameters.x[] uses oneOf"),
        ({"anyOf": [{"type": "string"}, {"not": {}}]}, "parameters.x|1 uses not"),
        ({"anyOf": [{"not": {}}, {"type": "null"}]}, "parameters.x uses not"),
        ({"allOf": [{"not": {}}]}, "parameters.x uses not"),
    ],
)
def test_a_refusal_deep_inside_names_its_path(prop: dict[str, Any], path: str) -> None:
    with pytest.raises(GeminiSchemaError) as caught:
        gemini_parameters({"type": "object", "properties": {"x": prop}})
    assert str(caught.value).startswith(f"tool 't': {path}")


@pytest.mark.parametrize(
    "node",
    [
        {"allOf": [{"$ref": "#/$defs/N"}]},
        {"anyOf": [{"$ref": "#/$defs/N"}, {"type": "null"}]},
        {"anyOf": [{"$ref": "#/$defs/N"}, {"type": "string"}]},
        {"type": "array", "items": {"$ref": "#/$defs/N"}},
    ],
)
def test_recursion_is_found_through_every_kind_of_nesting(node: dict[str, Any]) -> None:
    schema = {"type": "object", "$defs": {"N": node}, "properties": {"x": {"$ref": "#/$defs/N"}}}
    with pytest.raises(GeminiSchemaError, match=r"refers to itself \(\$ref 'N'\)"):
        gemini_parameters(schema)


def test_properties_that_are_not_an_object_are_dropped() -> None:
    schema = {
        "type": "object",
        "properties": {"x": {"type": "object", "properties": ["y"], "description": "d"}},
    }
    assert gemini_parameters(schema)["properties"]["x"] == {"type": "object", "description": "d"}
