"""The Bedrock request: URL and both ways in (a Bedrock API key; SigV4 by botocore,
checked here against the signing rules computed independently), roles, tool blocks,
reasoning back to its own model only, images as bytes, thinking per model family,
cache points, and what Converse cannot do refused in words."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

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
from tinyagent.providers import get_provider
from tinyagent.providers.bedrock._auth import forget_credentials
from tinyagent.wire import ResponseFormat, StreamOptions

PROVIDER = get_provider("bedrock-converse")
CLAUDE = Model.from_name(
    "bedrock:us-west-2/us.anthropic.claude-sonnet-4-5-20250929-v1:0", api_key="br-key"
)
ODD_ID = "call|odd/" + "x" * 80


def request_of(context: Context, model: Model = CLAUDE, **options: Any) -> Any:
    return PROVIDER.build_request(model, context, StreamOptions(**options), None)


def body_of(context: Context, model: Model = CLAUDE, **options: Any) -> dict[str, Any]:
    return json.loads(request_of(context, model, **options).body)


def reply(
    *content: Any, model: Model = CLAUDE, stop: StopReason = StopReason.TOOL_USE
) -> AssistantMessage:
    return AssistantMessage(
        tuple(content), stop, model=model.id, provider=model.provider_name, api=model.api
    )


def test_url_region_and_api_key() -> None:
    request = request_of(Context(messages=[UserMessage("hi")]))
    assert request.url == (
        "https://bedrock-runtime.us-west-2.amazonaws.com/model/"
        "us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream"
    )
    assert request.headers["authorization"] == "Bearer br-key"
    assert request.headers["accept"] == "application/vnd.amazon.eventstream"
    assert CLAUDE.api_key_env == "AWS_BEARER_TOKEN_BEDROCK" and CLAUDE.cost is not None


def _sigv4(
    method: str, url: str, headers: dict[str, str], body: bytes, secret: str, region: str
) -> str:
    """The signature AWS expects (docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html),
    computed here from the rules, apart from botocore."""
    parts = urlsplit(url)
    auth = headers["authorization"]
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    lower = {k.lower(): v for k, v in headers.items()}
    lower.setdefault("host", parts.netloc)
    canonical_headers = "".join(f"{h}:{' '.join(lower[h].split())}\n" for h in signed)
    path = "/".join(
        __import__("urllib.parse").parse.quote(seg, safe="-_.~") for seg in parts.path.split("/")
    )
    canonical = "\n".join([method, path, parts.query, canonical_headers, ";".join(signed),
                           hashlib.sha256(body).hexdigest()])  # fmt: skip
    stamp = lower["x-amz-date"]
    scope = f"{stamp[:8]}/{region}/bedrock/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{secret}".encode()
    for piece in (stamp[:8], region, "bedrock", "aws4_request"):
        key = hmac.new(key, piece.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_without_a_key_the_request_is_signed_with_sigv4(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    forget_credentials()
    try:
        model = Model.from_name("bedrock:eu-central-1/anthropic.claude-3-haiku-20240307-v1:0")
        request = request_of(Context(messages=[UserMessage("hi")]), model)
    finally:
        forget_credentials()
    auth = request.headers["authorization"]
    stamp = request.headers["x-amz-date"]
    assert auth.startswith(
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{stamp[:8]}/eu-central-1/bedrock/aws4_request, "
    )
    assert request.headers["x-amz-security-token"] == "session-token"
    signed_at = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    assert abs(signed_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    signature = auth.rsplit("Signature=", 1)[1]
    expected = _sigv4("POST", request.url, dict(request.headers), request.body,
                      "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-central-1")  # fmt: skip
    assert signature == expected  # over the exact URL (id percent-encoded) and body sent
    assert "wJalr" not in repr(request) and "AKIDEXAMPLE" not in request.url


def test_no_key_and_no_credentials_is_refused_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tinyagent

    for name in ("AWS_BEARER_TOKEN_BEDROCK", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_PROFILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    forget_credentials()
    try:
        model = Model.from_name(
            "bedrock:us-east-1/amazon.nova-pro-v1:0", base_url="http://127.0.0.1:9"
        )
        import anyio

        result = anyio.run(tinyagent.complete, model, Context(messages=[UserMessage("hi")]))
    finally:
        forget_credentials()
    assert result.failure is not None and result.failure.code == "missing_key"
    assert result.error_message.startswith(
        "no API key for bedrock: set AWS_BEARER_TOKEN_BEDROCK (or AWS credentials for SigV4"
    )


def test_roles_tool_blocks_and_reasoning_to_its_own_model_only() -> None:
    answer = reply(
        ThinkingContent("plan", "SIG"),
        ThinkingContent("", "UkVEQUNURUQ=", redacted=True),
        TextContent("let me add"),
        ToolCall(ODD_ID, "add", {"a": 1}),
    )
    ctx = Context(
        "Be brief.",
        [
            UserMessage([TextContent("hi"), ImageContent("aGk=", "image/jpeg")]),
            answer,
            ToolResultMessage(ODD_ID, "add", [TextContent("2")], is_error=True),
            UserMessage("   "),
            UserMessage("and?"),
        ],
        [
            ToolDefinition(
                "add", "Add.", {"type": "object", "properties": {"a": {"type": "number"}}}
            )
        ],
    )
    body = body_of(ctx, cache="none")
    assert body["system"] == [{"text": "Be brief."}]
    [use] = [b["toolUse"] for b in body["messages"][1]["content"] if "toolUse" in b]
    assert body["messages"] == [
        {"role": "user", "content": [
            {"text": "hi"}, {"image": {"format": "jpeg", "source": {"bytes": "aGk="}}}]},
        {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "plan", "signature": "SIG"}}},
            {"reasoningContent": {"redactedContent": "UkVEQUNURUQ="}},
            {"text": "let me add"},
            {"toolUse": {"toolUseId": use["toolUseId"], "name": "add", "input": {"a": 1}}}]},
        {"role": "user", "content": [
            {"toolResult": {"toolUseId": use["toolUseId"], "content": [{"text": "2"}], "status": "error"}},
            {"text": "and?"}]},
    ]  # fmt: skip
    assert len(use["toolUseId"]) <= 64 and "|" not in use["toolUseId"]
    assert body["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["properties"] == {
        "a": {"type": "number"}}  # fmt: skip
    other = Model.from_name("bedrock:us-west-2/amazon.nova-pro-v1:0", api_key="k")
    blocks = body_of(ctx, other)["messages"][1]["content"]
    assert not any("reasoningContent" in b for b in blocks)


def test_thinking_per_family_cache_points_and_limits() -> None:
    ctx = Context("sys", [UserMessage("x")], [ToolDefinition("f", "F.", {"type": "object"})])
    body = body_of(ctx, reasoning_effort="medium", max_tokens=2000, temperature=0.5)
    assert body["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 8192}
    }
    assert body["inferenceConfig"] == {"maxTokens": 9216}  # room for the budget; no temperature
    assert body["system"][-1] == {"cachePoint": {"type": "default"}}
    assert body["toolConfig"]["tools"][-1] == {"cachePoint": {"type": "default"}}
    assert body["messages"][-1]["content"][-1] == {"cachePoint": {"type": "default"}}
    nova = Model.from_name("bedrock:us-east-1/amazon.nova-pro-v1:0", api_key="k")
    assert body_of(ctx, nova, reasoning_effort="high")["additionalModelRequestFields"] == {
        "reasoningConfig": {"type": "enabled", "maxReasoningEffort": "high"}}  # fmt: skip
    llama = Model.from_name("bedrock:us-east-1/meta.llama3-70b-instruct-v1:0", api_key="k")
    plain = body_of(ctx, llama, temperature=0.5, tool_choice="required")
    assert "cachePoint" not in json.dumps(plain)  # a family that takes none gets none
    assert plain["inferenceConfig"] == {"maxTokens": 4096, "temperature": 0.5}
    assert plain["toolConfig"]["toolChoice"] == {"any": {}}
    assert body_of(ctx, tool_choice={"type": "function", "function": {"name": "f"}})["toolConfig"][
        "toolChoice"] == {"tool": {"name": "f"}}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"response_format": ResponseFormat("X", {"type": "object"})}, "final-answer tool"),
        ({"reasoning_effort": "lots"}, "reasoning_effort 'lots'"),
    ],
)
def test_what_converse_cannot_do_is_refused_in_words(change: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        body_of(Context(messages=[UserMessage("x")]), **change)


def test_an_image_url_is_refused_and_a_data_url_is_read() -> None:
    with pytest.raises(ValueError, match="Bedrock takes images as bytes, not URLs"):
        body_of(Context(messages=[UserMessage([ImageContent(url="https://x/y.png")])]))
    body = body_of(
        Context(messages=[UserMessage([ImageContent(url="data:image/png;base64,aGk=")])])
    )
    assert body["messages"][0]["content"][0] == {
        "image": {"format": "png", "source": {"bytes": "aGk="}}
    }


@pytest.mark.parametrize(
    ("image", "block"),
    [
        (ImageContent("aGk=", "image/png"), {"format": "png", "source": {"bytes": "aGk="}}),
        (ImageContent("aGk=", "image/jpg"), {"format": "jpeg", "source": {"bytes": "aGk="}}),
        (ImageContent("aGk=", "image/webp"), {"format": "webp", "source": {"bytes": "aGk="}}),
        (
            ImageContent(url="data:image/gif;base64,R0lG"),
            {"format": "gif", "source": {"bytes": "R0lG"}},
        ),
    ],
)
def test_images_go_as_bytes_in_their_format(image: ImageContent, block: dict[str, Any]) -> None:
    assert body_of(Context(messages=[UserMessage([image])]))["messages"][0]["content"][0] == {
        "image": block
    }


def test_an_image_format_bedrock_cannot_take_is_refused() -> None:
    with pytest.raises(
        ValueError, match="Bedrock takes png, jpeg, gif or webp images, not image/tiff"
    ):
        body_of(Context(messages=[UserMessage([ImageContent("aGk=", "image/tiff")])]))


def test_tool_results_with_images_and_empty_results() -> None:
    shot = ToolResultMessage("c1", "shot", [ImageContent("aGk=", "image/png")])
    empty = ToolResultMessage("c2", "noop", [TextContent("")])
    calls = reply(ToolCall("c1", "shot", {}), ToolCall("c2", "noop", {}))
    blocks = body_of(Context(messages=[UserMessage("x"), calls, shot, empty]), cache="none")[
        "messages"
    ][2]["content"]
    assert blocks == [
        {
            "toolResult": {
                "toolUseId": "c1",
                "content": [{"image": {"format": "png", "source": {"bytes": "aGk="}}}],
            }
        },
        {"toolResult": {"toolUseId": "c2", "content": [{"text": "(no output)"}]}},
    ]


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"auto": {}}),
        ("any", {"any": {}}),
        ("required", {"any": {}}),
        ({"name": "f"}, {"tool": {"name": "f"}}),
    ],
)
def test_tool_choice(choice: Any, config: dict[str, Any]) -> None:
    ctx = Context(
        messages=[UserMessage("x")], tools=[ToolDefinition("f", "F.", {"type": "object"})]
    )
    assert body_of(ctx, tool_choice=choice, cache="none")["toolConfig"]["toolChoice"] == config


def test_tool_choice_none_leaves_the_tools_out_unless_the_history_holds_calls() -> None:
    tools = [ToolDefinition("f", "F.", {"type": "object"})]
    assert "toolConfig" not in body_of(
        Context(messages=[UserMessage("x")], tools=tools), tool_choice="none"
    )
    history = [
        UserMessage("x"),
        reply(ToolCall("c", "f", {})),
        ToolResultMessage("c", "f", [TextContent("1")]),
    ]
    with pytest.raises(ValueError, match="Converse cannot forbid tool calls"):
        body_of(Context(messages=history, tools=tools), tool_choice="none")
    for bad, says in [
        ("sometimes", "tool_choice 'sometimes'"),
        ({"type": "function", "function": {}}, "name the tool"),
    ]:
        with pytest.raises(ValueError, match=re.escape(says)):
            body_of(Context(messages=[UserMessage("x")], tools=tools), tool_choice=bad)


@pytest.mark.parametrize(
    ("model_id", "effort", "fields", "max_tokens"),
    [
        (
            "anthropic.claude-x",
            "4000",
            {"thinking": {"type": "enabled", "budget_tokens": 4000}},
            5024,
        ),
        (
            "anthropic.claude-x",
            "100",
            {"thinking": {"type": "enabled", "budget_tokens": 1024}},
            4096,
        ),
        (
            "anthropic.claude-x",
            "minimal",
            {"thinking": {"type": "enabled", "budget_tokens": 1024}},
            4096,
        ),
        (
            "us.amazon.nova-premier-v1:0",
            "minimal",
            {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "low"}},
            4096,
        ),
        ("openai.gpt-oss-120b-1:0", "xhigh", {"reasoning_effort": "high"}, 4096),
        ("openai.gpt-oss-120b-1:0", "medium", {"reasoning_effort": "medium"}, 4096),
        (
            "arn:aws:bedrock:us-east-1:1:inference-profile/us.anthropic.claude-x",
            "low",
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
            4096,
        ),
    ],
)
def test_thinking_in_each_familys_words(
    model_id: str, effort: str, fields: dict[str, Any], max_tokens: int
) -> None:
    model = Model(
        model_id,
        "https://bedrock-runtime.us-east-1.amazonaws.com",
        api="bedrock-converse",
        api_key="k",
    )
    body = body_of(
        Context(messages=[UserMessage("x")]), model, reasoning_effort=effort, cache="none"
    )
    assert body["additionalModelRequestFields"] == fields
    assert body["inferenceConfig"]["maxTokens"] == max_tokens
    off = body_of(
        Context(messages=[UserMessage("x")]), model, reasoning_effort="none", cache="none"
    )
    assert "additionalModelRequestFields" not in off


def test_an_effort_a_family_cannot_take_is_refused() -> None:
    nova = Model("amazon.nova-pro-v1:0", "https://b", api="bedrock-converse", api_key="k")
    with pytest.raises(ValueError, match="use minimal, low, medium, high or xhigh"):
        body_of(Context(messages=[UserMessage("x")]), nova, reasoning_effort="4000")


def test_cache_modes_and_the_arn_is_percent_encoded() -> None:
    ctx = Context("sys", [UserMessage("x")])
    assert "cachePoint" not in json.dumps(body_of(ctx, cache="none"))
    assert body_of(ctx, cache="long")["system"][-1] == {"cachePoint": {"type": "default"}}
    arn = Model(
        "arn:aws:bedrock:us-east-1:12:inference-profile/us.anthropic.claude-x",
        "https://b/",
        api="bedrock-converse",
        api_key="k",
    )
    assert request_of(ctx, arn).url == (
        "https://b/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A12%3Ainference-profile%2Fus.anthropic.claude-x/converse-stream"
    )
    extra = body_of(ctx, extra_body={"guardrailConfig": {"guardrailIdentifier": "g"}})
    assert extra["guardrailConfig"] == {"guardrailIdentifier": "g"}


def test_the_region_comes_from_the_endpoint_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tinyagent.providers.bedrock._auth import aws_region

    assert aws_region("https://bedrock-runtime.ap-south-1.amazonaws.com") == "ap-south-1"
    assert aws_region("https://bedrock-runtime-fips.us-east-1.amazonaws.com") == "us-east-1"
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    assert aws_region("http://127.0.0.1:9") == "eu-west-3"
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ca-central-1")
    assert aws_region("http://proxy.local") == "ca-central-1"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert aws_region("http://proxy.local") == "us-east-1"
    with pytest.raises(ValueError, match="bedrock needs a region: name it in the model"):
        Model.from_name("bedrock:anthropic.claude-x")


def test_a_half_received_call_is_never_replayed_nor_its_result() -> None:
    cut = reply(
        TextContent("let me"),
        ToolCall("c0", "f", {"a": 1}),
        ToolCall("c1", "g", {}, raw_arguments='{"x": ', arguments_error="cut"),
        ToolCall("c2", "h", {}),
        stop=StopReason.ABORTED,
    )
    results = [
        ToolResultMessage(i, n, [TextContent("aborted")], is_error=True)
        for i, n in [("c0", "f"), ("c1", "g"), ("c2", "h")]
    ]
    body = body_of(Context(messages=[UserMessage("go"), cut, *results]), cache="none")
    assert [list(b) for b in body["messages"][1]["content"]] == [["text"], ["toolUse"], ["toolUse"]]
    assert [b["toolUse"]["toolUseId"] for b in body["messages"][1]["content"][1:]] == ["c0", "c2"]
    assert [b["toolResult"]["toolUseId"] for b in body["messages"][2]["content"]] == ["c0", "c2"]
    # a complete reply keeps a call whose arguments did not parse (the model is told so)
    whole = reply(ToolCall("c3", "f", {}, raw_arguments="{bad", arguments_error="bad"))
    blocks = body_of(Context(messages=[UserMessage("go"), whole]), cache="none")["messages"][1][
        "content"
    ]
    assert [b["toolUse"]["toolUseId"] for b in blocks] == ["c3"]


def test_tool_specs_in_full() -> None:
    tools = [ToolDefinition("now", "The time.", {"properties": {}})]
    spec = body_of(Context(messages=[UserMessage("x")], tools=tools), cache="none")["toolConfig"][
        "tools"
    ]
    assert spec == [
        {"toolSpec": {"name": "now", "description": "The time.",
                      "inputSchema": {"json": {"properties": {}, "type": "object"}}}}
    ]  # fmt: skip


def test_max_tokens_and_the_words_of_each_refusal() -> None:
    ctx = Context(messages=[UserMessage("x")])
    assert body_of(ctx, max_tokens=300, cache="none")["inferenceConfig"] == {"maxTokens": 300}
    capped = Model(
        "anthropic.claude-x", "https://b", api="bedrock-converse", api_key="k", max_tokens=900
    )
    assert body_of(ctx, capped, cache="none")["inferenceConfig"] == {"maxTokens": 900}
    cases = [
        ({"response_format": ResponseFormat("X", {"type": "object"})},
         "response_format is not sent to bedrock-converse: ask for structured output through a "
         "final-answer tool (Agent(output_mode='tool'), the default there)"),
        ({"reasoning_effort": "lots"},
         "reasoning_effort 'lots': use one of minimal, low, medium, high, xhigh, none, or a token "
         "budget such as '4000'"),
        ({"tool_choice": {"name": ""}}, "tool_choice {'name': ''}: name the tool, e.g. {'name': 'search'}"),
        ({"tool_choice": {"type": "function", "function": "f"}},
         "tool_choice {'type': 'function', 'function': 'f'}: name the tool, e.g. {'name': 'search'}"),
    ]  # fmt: skip
    for change, says in cases:
        with pytest.raises(ValueError, match=re.escape(says[:20])) as caught:
            body_of(ctx, **change)
        assert str(caught.value) == says
    with pytest.raises(ValueError, match="not URLs") as caught:
        body_of(Context(messages=[UserMessage([ImageContent(url="https://x/y.png")])]))
    assert str(caught.value) == (
        "Bedrock takes images as bytes, not URLs: fetch the image and pass "
        "ImageContent(base64_data, mime_type)"
    )
    history = [
        UserMessage("x"),
        reply(ToolCall("c", "f", {})),
        ToolResultMessage("c", "f", [TextContent("1")]),
    ]
    with pytest.raises(ValueError, match="cannot forbid") as caught:
        body_of(
            Context(messages=history, tools=[ToolDefinition("f", "F.", {})]), tool_choice="none"
        )
    assert str(caught.value) == (
        "tool_choice='none' on bedrock-converse: Converse cannot forbid tool calls, and a "
        "conversation that holds tool calls must send its tools; use 'auto'"
    )


def test_only_our_records_can_be_sent() -> None:
    class Note:
        role = "note"

    with pytest.raises(TypeError) as caught:
        body_of(Context(messages=[UserMessage("x"), Note()]))  # type: ignore[list-item]
    assert str(caught.value) == "cannot send a Note to a bedrock-converse model; convert it first"


def test_only_slashes_are_trimmed_from_the_endpoint() -> None:
    model = Model("m", "https://gateway.example/bedrockX/", api="bedrock-converse", api_key="k")
    assert request_of(Context(messages=[UserMessage("x")]), model).url == (
        "https://gateway.example/bedrockX/model/m/converse-stream"
    )
