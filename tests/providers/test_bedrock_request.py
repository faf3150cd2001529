"""The Bedrock request: URL and both ways in (a Bedrock API key; SigV4 by botocore,
checked here against the signing rules computed independently), roles, tool blocks,
reasoning back to its own model only, images as bytes, thinking per model family,
cache points, and what Converse cannot do refused in words."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
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
    assert abs(dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ") - dt.datetime.utcnow()) < dt.timedelta(
        minutes=5
    )
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
