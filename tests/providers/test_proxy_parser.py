"""The proxy parser's rules one by one, on the pure parser and the native one (the relay
protocol of ``providers/proxy/_parser.py`` and ``native/src/proxy.rs``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tinyagent import (
    DoneEvent,
    ErrorEvent,
    FailureKind,
    Model,
    StopReason,
    TextContent,
    ThinkingContent,
    ToolCall,
)
from tinyagent.transports import make_byte_parser

MODEL = Model("m", "http://127.0.0.1:1", api="proxy", provider="relay")
NATIVE = [False, True]


def run(*events: Any, native: bool = False) -> Any:
    parser = make_byte_parser(MODEL, native=native)
    body = b"".join(
        b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n\n"
        for e in events
    )
    out = parser.feed(body) + parser.end_of_stream()
    assert isinstance(out[-1], DoneEvent | ErrorEvent)
    return out[-1].message


def done(reason: str = "stop", **extra: Any) -> dict[str, Any]:
    return {"type": "done", "reason": reason, **extra}


@pytest.mark.parametrize("native", NATIVE)
def test_text_thinking_and_a_tool_call_with_usage(native: bool) -> None:
    m = run(
        {"type": "start"},
        {"type": "thinking_start", "contentIndex": 0},
        {"type": "thinking_delta", "contentIndex": 0, "delta": "hm"},
        {"type": "thinking_end", "contentIndex": 0, "contentSignature": "sig"},
        {"type": "text_start", "contentIndex": 1},
        {"type": "text_delta", "contentIndex": 1, "delta": "Hi "},
        {"type": "text_delta", "contentIndex": 1, "delta": "there"},
        {"type": "text_end", "contentIndex": 1},
        {"type": "toolcall_start", "contentIndex": 2, "id": "c1", "toolName": "add"},
        {"type": "toolcall_delta", "contentIndex": 2, "delta": '{"a": '},
        {"type": "toolcall_delta", "contentIndex": 2, "delta": "1}"},
        {"type": "toolcall_end", "contentIndex": 2},
        done(
            "toolUse",
            responseId="r-1",
            usage={"input": 10, "output": 5, "cacheRead": 3, "cacheWrite": 2, "reasoning": 1},
        ),
        native=native,
    )
    assert m.content == (
        ThinkingContent("hm", "sig"),
        TextContent("Hi there"),
        ToolCall("c1", "add", {"a": 1}),
    )
    assert m.stop_reason is StopReason.TOOL_USE
    assert m.provider_stop_reason == "toolUse"
    assert m.response_id == "r-1"
    u = m.usage
    assert (u.input, u.output, u.cache_read, u.cache_write, u.reasoning) == (10, 5, 3, 2, 1)


@pytest.mark.parametrize("native", NATIVE)
@pytest.mark.parametrize(
    ("reason", "stop"),
    [
        ("stop", StopReason.STOP),
        ("complete", StopReason.STOP),
        ("length", StopReason.LENGTH),
        ("tool_use", StopReason.TOOL_USE),
        ("toolUse", StopReason.TOOL_USE),
        ("tool_calls", StopReason.TOOL_USE),
        ("something_new", StopReason.STOP),
    ],
)
def test_both_dialects_stop_reasons(native: bool, reason: str, stop: StopReason) -> None:
    m = run({"type": "text_start", "contentIndex": 0}, done(reason), native=native)
    assert m.stop_reason is stop and m.provider_stop_reason == reason


@pytest.mark.parametrize("native", NATIVE)
def test_the_seeds_snake_case_usage(native: bool) -> None:
    usage = {"input": 4, "output": 2, "cache_read": 7, "cache_write": 1}
    m = run(done(usage=usage), native=native)
    assert (m.usage.input, m.usage.output, m.usage.cache_read, m.usage.cache_write) == (4, 2, 7, 1)


@pytest.mark.parametrize("native", NATIVE)
def test_a_redacted_thinking_block_keeps_its_signature(native: bool) -> None:
    m = run(
        {"type": "thinking_start", "contentIndex": 0},
        {"type": "thinking_end", "contentIndex": 0, "contentSignature": "opaque", "redacted": True},
        done(),
        native=native,
    )
    (block,) = m.content
    assert isinstance(block, ThinkingContent)
    assert block.signature == "opaque" and block.redacted


@pytest.mark.parametrize("native", NATIVE)
def test_an_error_event_ends_the_reply_keeping_what_came(native: bool) -> None:
    m = run(
        {"type": "text_start", "contentIndex": 0},
        {"type": "text_delta", "contentIndex": 0, "delta": "part"},
        {
            "type": "error",
            "reason": "error",
            "errorMessage": "slow down",
            "failure": {"kind": "rate_limit", "status": 429, "code": "rl", "retryAfter": 2.5},
            "usage": {"input": 3, "output": 1},
        },
        native=native,
    )
    assert m.stop_reason is StopReason.ERROR
    assert m.error_message == "slow down"
    assert m.content == (TextContent("part"),)
    f = m.failure
    assert f is not None
    assert (f.kind, f.status, f.code, f.retry_after) == (FailureKind.RATE_LIMIT, 429, "rl", 2.5)
    assert (m.usage.input, m.usage.output) == (3, 1)


@pytest.mark.parametrize("native", NATIVE)
def test_an_error_without_a_typed_failure_is_classified_by_its_words(native: bool) -> None:
    words = "This model's maximum context length is 8192 tokens, you asked for 9000"
    m = run({"type": "error", "errorMessage": words}, native=native)
    assert m.failure is not None and m.failure.kind is FailureKind.CONTEXT_OVERFLOW
    m = run({"type": "error", "errorMessage": "odd"}, native=native)
    assert m.failure is not None and m.failure.kind is FailureKind.UNKNOWN
    m = run({"type": "error"}, native=native)
    assert m.error_message == "the relay reported an error without a message"


@pytest.mark.parametrize("native", NATIVE)
@pytest.mark.parametrize(
    "failure",
    [
        {"kind": "no-such-kind"},
        {"kind": "server", "status": "500", "retryAfter": -1},
        {"kind": "server", "status": True, "retryAfter": "3"},
    ],
)
def test_odd_failure_fields_are_dropped_not_trusted(native: bool, failure: dict[str, Any]) -> None:
    m = run({"type": "error", "errorMessage": "x", "failure": failure}, native=native)
    f = m.failure
    assert f is not None
    assert f.kind in (FailureKind.UNKNOWN, FailureKind.SERVER)
    assert f.status is None and f.retry_after is None


@pytest.mark.parametrize("native", NATIVE)
@pytest.mark.parametrize(
    "events",
    [
        # a delta with no open block, or for another index
        [{"type": "text_delta", "contentIndex": 0, "delta": "x"}],
        [
            {"type": "text_start", "contentIndex": 0},
            {"type": "text_delta", "contentIndex": 1, "delta": "x"},
        ],
        # a delta of the other kind for the open block
        [
            {"type": "text_start", "contentIndex": 0},
            {"type": "thinking_delta", "contentIndex": 0, "delta": "x"},
        ],
        # a block started twice, or inside another
        [
            {"type": "text_start", "contentIndex": 0},
            {"type": "text_end", "contentIndex": 0},
            {"type": "text_start", "contentIndex": 0},
        ],
        [{"type": "text_start", "contentIndex": 0}, {"type": "thinking_start", "contentIndex": 1}],
        [{"type": "text_start"}],  # no place
        [{"type": "text_start", "contentIndex": -1}],
        # an end for a block that is not open, or of the other kind
        [{"type": "text_end", "contentIndex": 0}],
        [{"type": "thinking_start", "contentIndex": 0}, {"type": "text_end", "contentIndex": 0}],
        [{"type": "toolcall_end", "contentIndex": 0}],
        [{"type": "toolcall_delta", "contentIndex": 3, "delta": "{}"}],
        [
            {"type": "toolcall_start", "contentIndex": 0, "id": "c", "toolName": "t"},
            {"type": "toolcall_end", "contentIndex": 0},
            {"type": "toolcall_end", "contentIndex": 0},
        ],
    ],
)
def test_a_broken_stream_is_an_error_that_says_so(native: bool, events: list[Any]) -> None:
    m = run(*events, done(), native=native)
    assert m.stop_reason is StopReason.ERROR
    assert m.error_message is not None and "protocol" in m.error_message.lower()


@pytest.mark.parametrize("native", NATIVE)
def test_unknown_events_are_skipped_and_a_body_without_an_end_is_truncated(native: bool) -> None:
    m = run({"type": "novelty", "x": 1}, {"type": "text_start", "contentIndex": 0}, native=native)
    assert m.stop_reason is StopReason.ERROR
    assert m.error_message is not None and "done" in m.error_message
    m = run({"type": "novelty"}, done(), native=native)
    assert m.stop_reason is StopReason.STOP


@pytest.mark.parametrize("native", NATIVE)
def test_bad_tool_arguments_are_kept_and_said(native: bool) -> None:
    m = run(
        {"type": "toolcall_start", "contentIndex": 0, "id": "c1", "toolName": "t"},
        {"type": "toolcall_delta", "contentIndex": 0, "delta": '{"a": '},
        {"type": "toolcall_end", "contentIndex": 0},
        done("toolUse"),
        native=native,
    )
    (call,) = m.content
    assert isinstance(call, ToolCall)
    assert call.raw_arguments == '{"a": ' and call.arguments_error


@pytest.mark.parametrize("native", NATIVE)
def test_tool_calls_interleave_with_each_other(native: bool) -> None:
    m = run(
        {"type": "toolcall_start", "contentIndex": 0, "id": "a", "toolName": "x"},
        {"type": "toolcall_start", "contentIndex": 1, "id": "b", "toolName": "y"},
        {"type": "toolcall_delta", "contentIndex": 1, "delta": "{}"},
        {"type": "toolcall_delta", "contentIndex": 0, "delta": '{"n": 2}'},
        {"type": "toolcall_end", "contentIndex": 1},
        {"type": "toolcall_end", "contentIndex": 0},
        done("tool_use"),
        native=native,
    )
    assert [(c.id, c.name, c.arguments) for c in m.content] == [
        ("a", "x", {"n": 2}),
        ("b", "y", {}),
    ]


@pytest.mark.parametrize("native", NATIVE)
def test_usage_the_first_spelling_wins_and_missing_counts_are_zero(native: bool) -> None:
    usage = {"input": 4, "cache_read": 7, "cacheRead": 99}
    m = run(done(usage=usage), native=native)
    u = m.usage
    assert (u.input, u.output, u.cache_read, u.cache_write, u.reasoning) == (4, 0, 7, 0, 0)


@pytest.mark.parametrize("native", NATIVE)
def test_an_untyped_error_keeps_the_relays_words(native: bool) -> None:
    m = run({"type": "error", "errorMessage": "the upstream broke"}, native=native)
    assert m.error_message == "the upstream broke"


@pytest.mark.parametrize("native", NATIVE)
def test_retry_after_zero_is_kept_and_fractions_too(native: bool) -> None:
    for given, kept in ((0, 0.0), (0.5, 0.5), (3, 3.0)):
        failure = {"kind": "rate_limit", "status": 429, "retryAfter": given}
        m = run({"type": "error", "errorMessage": "x", "failure": failure}, native=native)
        assert m.failure is not None and m.failure.retry_after == kept
        assert m.failure.status == 429


@pytest.mark.parametrize("native", NATIVE)
def test_a_tool_call_with_no_id_or_name_and_two_thinking_blocks(native: bool) -> None:
    m = run(
        {"type": "thinking_start", "contentIndex": 0},
        {"type": "thinking_delta", "contentIndex": 0, "delta": "a"},
        {"type": "thinking_end", "contentIndex": 0},
        {"type": "thinking_start", "contentIndex": 1},
        {"type": "thinking_delta", "contentIndex": 1, "delta": "b"},
        {"type": "thinking_end", "contentIndex": 1},
        {"type": "toolcall_start", "contentIndex": 2},
        {"type": "toolcall_end", "contentIndex": 2},
        done("toolUse"),
        native=native,
    )
    assert m.content[:2] == (ThinkingContent("a"), ThinkingContent("b"))
    call = m.content[2]
    assert isinstance(call, ToolCall) and (call.id, call.name) == ("", "")


@pytest.mark.parametrize("native", NATIVE)
def test_arguments_past_the_limit_are_refused(native: bool) -> None:
    parser = make_byte_parser(MODEL, native=native, max_argument_bytes=16)
    events = [
        {"type": "toolcall_start", "contentIndex": 0, "id": "c", "toolName": "t"},
        {"type": "toolcall_delta", "contentIndex": 0, "delta": '{"text": "' + "x" * 64 + '"}'},
        {"type": "toolcall_end", "contentIndex": 0},
        done("toolUse"),
    ]
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    out = parser.feed(body) + parser.end_of_stream()
    end = out[-1]
    assert isinstance(end, DoneEvent | ErrorEvent)
    message = end.message
    assert message.stop_reason is StopReason.ERROR
    assert message.error_message is not None and "16" in message.error_message
