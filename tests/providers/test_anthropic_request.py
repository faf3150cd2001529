"""Building Anthropic Messages requests from our records (acceptance cases 19-25 of
the Anthropic wire-format notes, and conversations that come from elsewhere)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tinyagent import (
    AssistantMessage,
    Context,
    ImageContent,
    Model,
    StopReason,
    StreamOptions,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)
from tinyagent.providers import prepare_request

CLAUDE = Model(
    "claude-x",
    "https://api.anthropic.com/v1",
    api="anthropic-messages",
    provider="anthropic",
    api_key="sk-ant-secret",
    headers={"anthropic-beta": "a-1"},
)
GPT = Model("gpt-x", "https://api.openai.com/v1", provider="openai")
TOOLS = [
    ToolDefinition("add", "Add.", {"type": "object", "properties": {"a": {"type": "number"}}}),
    ToolDefinition("now", "The time."),
]


def body_of(ctx: Context, model: Model = CLAUDE, **options: Any) -> dict[str, Any]:
    req = prepare_request(model, ctx, StreamOptions(**options))
    return json.loads(req.body)  # type: ignore[no-any-return]


def reply(
    *content: Any, model: Model = CLAUDE, stop: StopReason = StopReason.TOOL_USE
) -> AssistantMessage:
    return AssistantMessage(
        content, stop, model=model.id, provider=model.provider_name, api=model.api
    )


def test_body_headers_and_url() -> None:
    ctx = Context("Be brief.", [UserMessage("hi")], TOOLS)
    req = prepare_request(CLAUDE, ctx, StreamOptions(headers={"anthropic-beta": "b-2,a-1"}))
    assert req.url == "https://api.anthropic.com/v1/messages"
    assert req.headers["x-api-key"] == "sk-ant-secret" and "authorization" not in req.headers
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert req.headers["anthropic-beta"] == "a-1,b-2"
    assert "sk-ant-secret" not in repr(req)
    body = json.loads(req.body)
    assert body["model"] == "claude-x" and body["stream"] is True
    assert body["max_tokens"] == 4096  # always sent
    assert body["system"][0]["text"] == "Be brief."
    assert body["tools"][0]["name"] == "add"
    assert body["tools"][0]["input_schema"]["properties"] == {"a": {"type": "number"}}
    assert body["tools"][1]["input_schema"]["type"] == "object"


def test_consecutive_tool_results_merge_into_one_user_message_first() -> None:
    calls = [ToolCall(f"toolu_{i}", "add", {"a": i}) for i in range(3)]
    msgs = [
        UserMessage("go"),
        reply(*calls),
        *[ToolResultMessage(c.id, "add", str(i), is_error=(i == 1)) for i, c in enumerate(calls)],
        UserMessage([TextContent("  "), TextContent("and now?")]),
    ]
    body = body_of(Context(messages=msgs))
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    last = body["messages"][-1]["content"]
    assert [b["type"] for b in last] == ["tool_result"] * 3 + ["text"]
    assert last[1]["is_error"] is True and "is_error" not in last[0]
    assert strip_markers(last[-1]) == {"type": "text", "text": "and now?"}  # blank one dropped
    uses = body["messages"][1]["content"]
    assert uses[0] == {"type": "tool_use", "id": "toolu_0", "name": "add", "input": {"a": 0}}


def test_images_in_user_messages_and_tool_results() -> None:
    msgs = [
        UserMessage(
            [
                TextContent("see"),
                ImageContent("QUJD", "image/png"),
                ImageContent(url="data:image/jpeg;base64,REVG"),
            ]
        ),
        reply(ToolCall("t1", "shot", {})),
        ToolResultMessage("t1", "shot", [ImageContent("R0hJ", "image/png")]),
    ]
    body = body_of(Context(messages=msgs))
    user = body["messages"][0]["content"]
    assert user[1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "QUJD"},
    }
    assert user[2]["source"] == {"type": "base64", "media_type": "image/jpeg", "data": "REVG"}
    result = body["messages"][2]["content"][0]["content"]
    assert result[0] == {"type": "text", "text": "(see attached image)"}
    assert result[1]["source"]["data"] == "R0hJ"


def test_tool_ids_from_elsewhere_are_rewritten_consistently_and_stay_distinct() -> None:
    long_a = "call_abc|" + "Zx+/=" * 20
    long_b = "call_abc|" + "Zx+/=" * 20 + "!"
    msgs = [
        UserMessage("go"),
        reply(ToolCall(long_a, "add", {}), ToolCall(long_b, "add", {}), model=GPT),
        ToolResultMessage(long_a, "add", "1"),
        ToolResultMessage(long_b, "add", "2"),
    ]
    body = body_of(Context(messages=msgs))
    uses = [b["id"] for b in body["messages"][1]["content"]]
    results = [b["tool_use_id"] for b in body["messages"][2]["content"]]
    assert uses == results and uses[0] != uses[1]
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", i) for i in uses)


def test_thinking_goes_back_unchanged_only_to_the_model_that_signed_it() -> None:
    signed = ThinkingContent("I think.", "SIG")
    redacted = ThinkingContent("", "ENC", redacted=True)
    unsigned = ThinkingContent("Half a thought", None)
    own = reply(signed, redacted, unsigned, TextContent("a"), stop=StopReason.STOP)
    other = reply(
        signed, redacted, ThinkingContent("  "), TextContent("b"), model=GPT, stop=StopReason.STOP
    )
    for_claude = body_of(Context(messages=[UserMessage("q"), own, UserMessage("q2"), other]))
    assert for_claude["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "I think.", "signature": "SIG"},
        {"type": "redacted_thinking", "data": "ENC"},
        {"type": "text", "text": "Half a thought"},  # no signature: never a thinking block
        {"type": "text", "text": "a"},
    ]
    # From another model: text, redacted and empty thinking dropped, no signature sent.
    assert for_claude["messages"][3]["content"] == [
        {"type": "text", "text": "I think."},
        {"type": "text", "text": "b"},
    ]
    for_gpt = prepare_request(GPT, Context(messages=[UserMessage("q"), own]), StreamOptions())
    assert b"SIG" not in for_gpt.body and b"ENC" not in for_gpt.body


def test_an_aborted_reply_never_replays_half_a_tool_call() -> None:
    half = ToolCall("t2", "add", {}, raw_arguments='{"a": ', arguments_error="not valid JSON")
    aborted = reply(
        TextContent("let me"), ToolCall("t1", "add", {"a": 1}), half, stop=StopReason.ABORTED
    )
    msgs = [
        UserMessage("go"),
        aborted,
        ToolResultMessage("t1", "add", "1"),
        ToolResultMessage("t2", "add", "Tool call aborted", is_error=True),
        UserMessage("again"),
    ]
    body = body_of(Context(messages=msgs))
    assert [b.get("id") for b in body["messages"][1]["content"]] == [None, "t1"]
    assert [b.get("tool_use_id") for b in body["messages"][2]["content"]] == ["t1", None]


def test_thinking_budget_and_the_options_it_forbids() -> None:
    ctx = Context(messages=[UserMessage("hi")])
    body = body_of(ctx, reasoning_effort="medium", temperature=0.2)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert body["max_tokens"] > 8192 and "temperature" not in body
    small = body_of(ctx, reasoning_effort="high", max_tokens=2000)
    assert 1024 <= small["thinking"]["budget_tokens"] < small["max_tokens"] == 2000
    assert "thinking" not in body_of(ctx, reasoning_effort="none", temperature=0.2)
    assert body_of(ctx, temperature=0.2)["temperature"] == 0.2
    with pytest.raises(ValueError, match="max_tokens above 1024"):
        body_of(ctx, reasoning_effort="low", max_tokens=1000)
    with pytest.raises(ValueError, match="forced tool_choice"):
        body_of(ctx, reasoning_effort="low", tool_choice="required")
    with pytest.raises(ValueError, match="reasoning_effort 'lots'"):
        body_of(ctx, reasoning_effort="lots")


def test_tool_choice_forms() -> None:
    ctx = Context(messages=[UserMessage("hi")], tools=TOOLS)
    assert body_of(ctx, tool_choice="auto")["tool_choice"] == {"type": "auto"}
    assert body_of(ctx, tool_choice="required")["tool_choice"] == {"type": "any"}
    fn = {"type": "function", "function": {"name": "add"}}
    assert body_of(ctx, tool_choice=fn)["tool_choice"] == {"type": "tool", "name": "add"}


def test_session_id_and_extra_body() -> None:
    body = body_of(Context(messages=[UserMessage("hi")]), session_id="s-1", extra_body={"top_k": 5})
    assert body["metadata"] == {"user_id": "s-1"} and body["top_k"] == 5


# --- prompt caching -------------------------------------------------------------------


def breakpoints(body: dict[str, Any]) -> list[str]:
    """Where the cache_control markers are, in prefix order (tools, system, messages)."""
    where = [f"tool:{t['name']}" for t in body.get("tools", []) if "cache_control" in t]
    where += ["system" for s in body.get("system", []) if "cache_control" in s]
    for i, m in enumerate(body["messages"]):
        for j, b in enumerate(m["content"]):
            if "cache_control" in b:
                assert b["type"] not in ("thinking", "redacted_thinking")
                where.append(f"message:{i}:{j}")
    return where


def strip_markers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_markers(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [strip_markers(v) for v in value]
    return value


def test_ten_turns_of_tools_keep_at_most_four_breakpoints_and_a_stable_prefix() -> None:
    transcript: list[Any] = [UserMessage("start")]
    previous: dict[str, Any] | None = None
    for turn in range(10):
        body = body_of(Context("System prompt.", transcript, TOOLS), cache="auto")
        marks = breakpoints(body)
        assert len(marks) <= 4
        assert marks[:2] == ["tool:now", "system"] and marks[-1].startswith("message:")
        if previous is not None:
            # The new request repeats the old one up to the old one's last breakpoint.
            last = breakpoints(previous)[-1]
            i, j = map(int, last.split(":")[1:])
            old = strip_markers(previous["messages"])
            new = strip_markers(body["messages"])
            assert new[:i] == old[:i] and new[i]["content"][: j + 1] == old[i]["content"][: j + 1]
            assert strip_markers(body["tools"]) == strip_markers(previous["tools"])
            assert last in marks  # the old breakpoint is still one: the cache is read there
        previous = body
        call = ToolCall(f"toolu_{turn}", "add", {"a": turn})
        thinking = ThinkingContent(f"turn {turn}", f"SIG{turn}")
        transcript += [
            reply(thinking, TextContent(f"step {turn}"), call),
            ToolResultMessage(call.id, "add", str(turn)),
        ]


def test_long_retention_and_none() -> None:
    ctx = Context("S", [UserMessage("hi")], TOOLS)
    long = body_of(ctx, cache="long")
    assert long["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert breakpoints(body_of(ctx, cache="none")) == []
    model = Model("c", "http://x/v1", api="anthropic-messages", cache="none")
    assert breakpoints(body_of(ctx, model=model)) == []


# --- pinned down after the mutation run (benches/mutation.py) -----------------------

from tinyagent.providers.anthropic._request import anthropic_tool_id  # noqa: E402


def test_tool_ids_edge_cases() -> None:
    assert anthropic_tool_id("toolu_01A-b") == "toolu_01A-b"  # valid ids are kept
    exact = "a" * 64
    assert anthropic_tool_id(exact) == exact
    long = anthropic_tool_id("a" * 65)
    assert len(long) == 64 and long.startswith("a" * 53 + "_")
    empty = anthropic_tool_id("")
    assert re.fullmatch(r"_[0-9a-f]{10}", empty)
    assert anthropic_tool_id("a.b") != anthropic_tool_id("a,b")  # both clean to a_b
    assert anthropic_tool_id("a.b").startswith("a_b_")


def test_tools_get_an_object_schema_and_their_description() -> None:
    body = body_of(
        Context(
            messages=[UserMessage("hi")], tools=[ToolDefinition("t", "Does t.", {"properties": {}})]
        ),
        cache="none",
    )
    assert body["tools"] == [
        {
            "name": "t",
            "description": "Does t.",
            "input_schema": {"properties": {}, "type": "object"},
        }
    ]


def test_tool_choice_every_form() -> None:
    ctx = Context(messages=[UserMessage("hi")], tools=TOOLS)
    assert body_of(ctx, tool_choice="none")["tool_choice"] == {"type": "none"}
    assert body_of(ctx, tool_choice="any")["tool_choice"] == {"type": "any"}
    named = {"type": "tool", "name": "add", "disable_parallel_tool_use": True}
    assert body_of(ctx, tool_choice=named)["tool_choice"] == named
    assert body_of(ctx, tool_choice={"type": "function"})["tool_choice"] == {
        "type": "tool",
        "name": None,
    }
    with pytest.raises(ValueError, match="tool_choice 'sometimes'"):
        body_of(ctx, tool_choice="sometimes")
    # With thinking on, auto is still fine; a named tool is refused.
    assert body_of(ctx, reasoning_effort="low", tool_choice="auto")["tool_choice"] == {
        "type": "auto"
    }
    with pytest.raises(ValueError, match="forced tool_choice"):
        body_of(ctx, reasoning_effort="low", tool_choice=named)


def test_thinking_budgets_from_numbers_and_the_model_limit() -> None:
    ctx = Context(messages=[UserMessage("hi")])
    assert body_of(ctx, reasoning_effort="4000")["thinking"]["budget_tokens"] == 4000
    assert body_of(ctx, reasoning_effort="500")["thinking"]["budget_tokens"] == 1024
    assert body_of(ctx, reasoning_effort="minimal")["thinking"]["budget_tokens"] == 1024
    assert body_of(ctx, reasoning_effort="xhigh")["thinking"]["budget_tokens"] == 32768
    assert body_of(ctx, reasoning_effort="off").get("thinking") is None
    assert body_of(ctx, reasoning_effort="disabled").get("thinking") is None
    capped = Model("c", "http://x/v1", api="anthropic-messages", max_tokens=3000)
    body = body_of(ctx, model=capped, reasoning_effort="high")
    assert body["max_tokens"] == 3000 and body["thinking"]["budget_tokens"] == 2999
    assert body_of(ctx, model=capped)["max_tokens"] == 3000
    assert body_of(ctx, reasoning_effort="low")["max_tokens"] == 2048 + 4096
    assert "metadata" not in body_of(ctx)


def test_images_by_url_blank_strings_and_empty_results() -> None:
    msgs = [
        UserMessage("   "),
        UserMessage([ImageContent(url="https://example.com/cat.png")]),
        reply(ToolCall("t1", "f", {})),
        ToolResultMessage("t1", "f", ""),
        ToolResultMessage("t1", "f", [TextContent("see"), ImageContent("QUJD")]),
    ]
    body = body_of(Context(messages=msgs), cache="none")
    assert body["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}
    ]
    results = body["messages"][2]["content"]
    assert results[0] == {"type": "tool_result", "tool_use_id": "t1", "content": "(no output)"}
    assert results[1]["content"][0] == {"type": "text", "text": "see"}
    assert results[1]["content"][1]["source"]["media_type"] == "image/png"


def test_same_model_needs_the_same_provider_and_api() -> None:
    signed = ThinkingContent("I think.", "SIG")
    elsewhere = AssistantMessage(
        (signed,), StopReason.STOP, model="claude-x", provider="bedrock", api="anthropic-messages"
    )
    other_api = AssistantMessage(
        (signed,), StopReason.STOP, model="claude-x", provider="anthropic", api="openai-chat"
    )
    for m in (elsewhere, other_api):
        body = body_of(Context(messages=[UserMessage("q"), m]), cache="none")
        assert body["messages"][1]["content"] == [{"type": "text", "text": "I think."}]


def test_cache_none_sends_no_marker_anywhere() -> None:
    ctx = Context(
        "S",
        [UserMessage("hi"), reply(TextContent("a"), stop=StopReason.STOP), UserMessage("b")],
        TOOLS,
    )
    req = prepare_request(CLAUDE, ctx, StreamOptions(cache="none"))
    assert b"cache_control" not in req.body
    auto = json.loads(prepare_request(CLAUDE, ctx, StreamOptions()).body)
    assert auto["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert breakpoints(auto) == ["tool:now", "system", "message:0:0", "message:2:0"]


def test_exact_blocks_for_strings_system_and_a_lone_tool() -> None:
    one_tool = [ToolDefinition("only", "One.")]
    three = [ToolDefinition(n, n) for n in ("a", "b", "c")]
    body = body_of(Context("Sys.", [UserMessage("hi")], one_tool))
    marker = {"type": "ephemeral"}
    assert body["system"] == [{"type": "text", "text": "Sys.", "cache_control": marker}]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": marker}]}
    ]
    assert body["tools"][0]["cache_control"] == marker
    body = body_of(Context(messages=[UserMessage("hi")], tools=three))
    assert ["cache_control" in t for t in body["tools"]] == [False, False, True]
    # With neither system nor tools, still only the newest two user messages.
    many = [
        UserMessage(str(i)) if i % 2 == 0 else reply(TextContent(str(i)), stop=StopReason.STOP)
        for i in range(7)
    ]
    assert breakpoints(body_of(Context(messages=many))) == ["message:4:0", "message:6:0"]


def test_ids_with_lone_surrogates_do_not_break_the_request() -> None:
    odd = anthropic_tool_id("call\ud800x")
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", odd)


def test_a_half_call_is_dropped_but_what_follows_it_is_kept() -> None:
    half = ToolCall("t1", "add", {}, raw_arguments='{"a"', arguments_error="bad")
    aborted = reply(
        half, ToolCall("t2", "add", {"a": 2}), TextContent("after"), stop=StopReason.ABORTED
    )
    body = body_of(Context(messages=[UserMessage("go"), aborted]), cache="none")
    assert [b.get("id", b.get("text")) for b in body["messages"][1]["content"]] == ["t2", "after"]


def test_tool_results_join_their_text_parts() -> None:
    msgs = [
        UserMessage("go"),
        reply(ToolCall("t1", "f", {})),
        ToolResultMessage("t1", "f", [TextContent("a"), TextContent("b")]),
    ]
    assert (
        body_of(Context(messages=msgs), cache="none")["messages"][2]["content"][0]["content"]
        == "ab"
    )


def test_clear_errors_for_what_cannot_be_sent() -> None:
    ctx = Context(messages=[UserMessage("hi")])
    with pytest.raises(ValueError, match="use one of minimal, low, medium, high, xhigh, none"):
        body_of(ctx, reasoning_effort="lots")
    with pytest.raises(ValueError, match=r"above 1024 .*got 1024"):
        body_of(ctx, reasoning_effort="low", max_tokens=1024)
    assert (
        body_of(ctx, reasoning_effort="low", max_tokens=1025)["thinking"]["budget_tokens"] == 1024
    )
    with pytest.raises(
        ValueError,
        match=r"^Anthropic rejects a forced tool_choice .* while thinking is on: use tool_choice='auto'",
    ):
        body_of(ctx, reasoning_effort="low", tool_choice="any")

    class Custom:
        role = "custom"

    with pytest.raises(
        TypeError, match="cannot send a Custom to an anthropic-messages model; convert it first"
    ):
        body_of(Context(messages=[Custom()]))  # type: ignore[list-item]
