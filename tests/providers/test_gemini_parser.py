"""The Gemini chunk parser's rules one by one (the pure parser; the native one is held
to the same events by tests/providers/test_gemini_parity.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tinyagent import (
    DoneEvent,
    ErrorEvent,
    FailureKind,
    Model,
    ModelCost,
    StopReason,
    TextContent,
    ThinkingContent,
    ToolCall,
)
from tinyagent.transports import make_byte_parser

MODEL = Model("gemini-x", "http://127.0.0.1:1/v1", api="google-gemini", cost=ModelCost(1, 2, 0.5))


def chunk(
    *parts: dict[str, Any], finish: str | None = None, usage: Any = None, **extra: Any
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if finish is not None:
        candidate["finishReason"] = finish
    out: dict[str, Any] = {"candidates": [candidate], **extra}
    if usage is not None:
        out["usageMetadata"] = usage
    return out


def run(*chunks: Any, native: bool = False) -> Any:
    parser = make_byte_parser(MODEL, native=native)
    body = b"".join(
        b"data: " + (c if isinstance(c, bytes) else json.dumps(c).encode()) + b"\r\n\r\n"
        for c in chunks
    )
    events = parser.feed(body) + parser.end_of_stream()
    assert isinstance(events[-1], DoneEvent | ErrorEvent)
    return events[-1].message


def test_text_thoughts_and_usage_from_the_last_chunk() -> None:
    m = run(
        chunk({"text": "plan", "thought": True}, usage={"promptTokenCount": 3}),
        chunk({"text": "Hel"}, {"text": "lo"}, responseId="r1"),
        chunk(
            {"text": "!"},
            finish="STOP",
            responseId="r2",
            usage={
                "promptTokenCount": 10,
                "cachedContentTokenCount": 4,
                "candidatesTokenCount": 3,
                "thoughtsTokenCount": 2,
            },
        ),
    )
    assert m.content == (ThinkingContent("plan"), TextContent("Hello!"))
    assert m.stop_reason is StopReason.STOP and m.provider_stop_reason == "STOP"
    assert (m.usage.input, m.usage.output, m.usage.cache_read, m.usage.reasoning) == (6, 5, 4, 2)
    assert m.response_id == "r1"
    assert m.usage.cost is not None and m.usage.cost.total > 0


def test_usage_without_a_prompt_count_is_not_taken() -> None:
    m = run(chunk({"text": "a"}, finish="STOP", usage={"candidatesTokenCount": 9}))
    assert (m.usage.input, m.usage.output) == (0, 0)


@pytest.mark.parametrize(
    ("value", "counted"),
    [(7, 7), (-1, 0), (2**63, 0), (2**63 - 1, 2**63 - 1), (True, 0), (1.5, 0), ("7", 0)],
)
def test_a_token_count_is_a_json_integer_in_range(value: Any, counted: int) -> None:
    m = run(chunk({"text": "a"}, finish="STOP", usage={"promptTokenCount": value}))
    assert m.usage.input == counted


def test_cached_tokens_never_make_the_input_negative() -> None:
    m = run(chunk(finish="STOP", usage={"promptTokenCount": 2, "cachedContentTokenCount": 5}))
    assert (m.usage.input, m.usage.cache_read) == (0, 5)


def test_signatures_on_every_kind_of_part() -> None:
    m = run(
        chunk(
            {"text": "a", "thought": True, "thoughtSignature": "T1"}, {"text": "b", "thought": True}
        ),
        chunk({"text": "Hi", "thoughtSignature": "X1"}),
        chunk(
            {"functionCall": {"name": "f", "args": {"q": 1}}, "thoughtSignature": "C1"},
            {"functionCall": {"name": "g", "id": "given"}},
        ),
        chunk(
            {"executableCode": {"code": "1"}, "thoughtSignature": "E1"},
            {"text": "", "thoughtSignature": "Z1"},
        ),
        chunk(finish="STOP"),
    )
    assert m.content == (
        ThinkingContent("a", "T1"),
        ThinkingContent("b"),
        ThinkingContent("", "X1", redacted=True),
        TextContent("Hi"),
        ThinkingContent("", "C1", redacted=True),
        ToolCall("call_0", "f", {"q": 1}),
        ToolCall("given", "g", {}),
        ThinkingContent("", "E1", redacted=True),
        ThinkingContent("", "Z1", redacted=True),
    )
    assert m.stop_reason is StopReason.TOOL_USE  # STOP after calls: a tool turn


def test_an_empty_signature_is_none() -> None:
    m = run(chunk({"text": "Hi", "thoughtSignature": ""}, finish="STOP"))
    assert m.content == (TextContent("Hi"),)


def test_thought_must_be_true_itself() -> None:
    m = run(chunk({"text": "a", "thought": "true"}, {"text": "b", "thought": False}, finish="STOP"))
    assert m.content == (TextContent("ab"),)


@pytest.mark.parametrize(
    ("reason", "stop", "kind"),
    [
        ("MAX_TOKENS", StopReason.LENGTH, None),
        ("SAFETY", StopReason.ERROR, FailureKind.CONTENT_FILTER),
        ("RECITATION", StopReason.ERROR, FailureKind.CONTENT_FILTER),
        ("PROHIBITED_CONTENT", StopReason.ERROR, FailureKind.CONTENT_FILTER),
        ("MALFORMED_FUNCTION_CALL", StopReason.ERROR, FailureKind.SERVER),
        ("SOMETHING_NEW", StopReason.STOP, None),
    ],
)
def test_finish_reasons(reason: str, stop: StopReason, kind: FailureKind | None) -> None:
    m = run(chunk({"text": "a"}, finish=reason))
    assert m.stop_reason is stop and m.provider_stop_reason == reason
    assert (m.failure.kind if m.failure else None) == kind
    if kind is not None:
        assert reason in (m.error_message or "")


def test_a_body_without_a_finish_reason_is_truncated_and_keeps_what_came() -> None:
    m = run(chunk({"text": "partial"}), chunk(finish=""))
    assert m.stop_reason is StopReason.ERROR
    assert m.error_message == "the stream ended before a finish reason (truncated reply)"
    assert m.content == (TextContent("partial"),)


def test_an_error_chunk_ends_the_reply_typed_and_a_null_error_is_none() -> None:
    m = run(
        chunk({"text": "a"}),
        {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}},
    )
    assert m.stop_reason is StopReason.ERROR and m.error_message == "overloaded"
    assert m.failure is not None and m.failure.kind is FailureKind.OVERLOADED
    assert m.content == (TextContent("a"),)
    ok = run({"error": None, **chunk({"text": "b"}, finish="STOP")})
    assert ok.stop_reason is StopReason.STOP and ok.text == "b"


@pytest.mark.parametrize("args", [[1], "x", 3])
def test_call_arguments_that_are_not_an_object_are_a_malformed_chunk(args: Any) -> None:
    m = run(
        chunk({"text": "kept"}),
        chunk({"functionCall": {"name": "f", "args": args}}, {"text": "lost"}),
    )
    assert m.stop_reason is StopReason.ERROR
    assert m.error_message.startswith("unexpected structure in stream chunk")
    assert m.content == (TextContent("kept"),)


def test_null_args_and_nameless_calls() -> None:
    m = run(
        chunk(
            {"functionCall": {"args": None}},
            {"functionCall": {"name": "f", "id": ""}},
            finish="STOP",
        )
    )
    assert m.content == (ToolCall("call_0", "", {}), ToolCall("call_1", "f", {}))


@pytest.mark.parametrize(
    "odd",
    [
        {"candidates": []},
        {"candidates": "x"},
        {"candidates": ["x"]},
        {"candidates": [{"content": "x"}]},
        {"candidates": [{"content": {"parts": "x"}}]},
        {"candidates": [{"content": {"parts": ["x", 1, None]}}]},
        {"usageMetadata": "x"},
    ],
)
def test_odd_shapes_are_skipped_never_a_crash(odd: dict[str, Any]) -> None:
    m = run(chunk({"text": "a"}), odd, chunk(finish="STOP"))
    assert m.stop_reason is StopReason.STOP and m.text == "a"


def test_not_json_is_a_malformed_chunk() -> None:
    m = run(chunk({"text": "a"}), b"{not json")
    assert m.stop_reason is StopReason.ERROR and m.content == (TextContent("a"),)


def test_arguments_past_the_bound_fail_the_reply() -> None:
    parser = make_byte_parser(MODEL, max_argument_bytes=8)
    body = (
        b"data: "
        + json.dumps(chunk({"functionCall": {"name": "f", "args": {"long": "x" * 20}}})).encode()
        + b"\n\n"
    )
    events = parser.feed(body) + parser.end_of_stream()
    assert events[-1].message.stop_reason is StopReason.ERROR
    assert "8" in (events[-1].message.error_message or "")


def test_after_the_reply_ended_nothing_more_is_read() -> None:
    m = run({"error": {"message": "gone"}}, chunk({"text": "late"}, finish="STOP"))
    assert m.error_message == "gone" and m.content == ()


def test_fields_of_the_wrong_type_are_not_read() -> None:
    m = run(
        chunk({"text": "a", "thoughtSignature": 7}, responseId=5),
        chunk({"functionCall": {"name": 5, "id": 9}}),
        chunk(finish="STOP"),
    )
    assert m.content == (TextContent("a"), ToolCall("call_0", "", {}))
    assert m.response_id is None


def test_call_ids_count_up_and_arguments_stream_as_compact_json() -> None:
    from tinyagent import TextStartEvent, ToolCallDeltaEvent, ToolCallEndEvent

    parser = make_byte_parser(MODEL)
    body = json.dumps(
        chunk(
            {"functionCall": {"name": "a", "args": {"q": "é", "n": [1, 2]}}},
            {"functionCall": {"name": "b"}},
            {"functionCall": {"name": "c"}},
            {"text": "after"},
            finish="STOP",
        )
    ).encode()
    events = parser.feed(b"data: " + body + b"\n\n") + parser.end_of_stream()
    deltas = [e.delta for e in events if isinstance(e, ToolCallDeltaEvent)]
    assert deltas[0] == '{"q":"é","n":[1,2]}'
    message = events[-1].message
    assert [c.id for c in message.tool_calls] == ["call_0", "call_1", "call_2"]
    kinds = [type(e).__name__ for e in events if isinstance(e, ToolCallEndEvent | TextStartEvent)]
    assert kinds == ["ToolCallEndEvent"] * 3 + ["TextStartEvent"]  # each call ends where it came


def test_a_part_that_is_not_an_object_is_skipped_and_the_rest_read() -> None:
    m = run(chunk("x", 1, {"text": "b"}, None, {"text": "c"}, finish="STOP"))
    assert m.text == "bc"


def test_a_reply_cut_by_the_caller_keeps_its_usage_and_its_stop_reason() -> None:
    parser = make_byte_parser(MODEL)
    body = json.dumps(
        chunk({"text": "a"}, usage={"promptTokenCount": 9, "candidatesTokenCount": 2})
    )
    parser.feed(b"data: " + body.encode() + b"\n\n")
    end = parser.fail("the caller left", stop_reason=StopReason.ABORTED)[-1]
    assert end.message.stop_reason is StopReason.ABORTED
    assert (end.message.usage.input, end.message.usage.output) == (9, 2)
    assert parser.fail("twice") == [] and parser.message is end.message  # it ended once


def test_errors_carry_the_exception_and_name_the_model() -> None:
    parser = make_byte_parser(MODEL)
    events = parser.feed(b"data: {not json\n\n")
    assert isinstance(events[-1], ErrorEvent)
    assert type(events[-1].error).__name__ == "StreamFormatError"
    parser = make_byte_parser(MODEL)
    events = parser.feed(b'data: {"error": {"code": 429, "message": "slow"}}\n\n')
    error = events[-1].error
    assert (error.provider, error.model, error.status) == ("127.0.0.1", "gemini-x", 429)


def test_the_parser_alone_uses_geminis_own_verdict() -> None:
    from tinyagent.providers.google_gemini._parser import GeminiParser

    parser = GeminiParser(MODEL)
    parser.feed_data([json.dumps(chunk({"text": "a"}, finish="SAFETY")).encode()])
    end = parser.end_of_stream()[-1]
    assert (
        end.message.failure.kind is FailureKind.CONTENT_FILTER
        and end.message.failure.code == "SAFETY"
    )
    parser = GeminiParser(MODEL)
    parser.feed_data([json.dumps(chunk({"text": "a"}, finish="MALFORMED_FUNCTION_CALL")).encode()])
    end = parser.end_of_stream()[-1]
    assert end.message.failure.code == "MALFORMED_FUNCTION_CALL"
    parser = GeminiParser(MODEL)
    parser.feed_data([json.dumps(chunk({"text": "a"}, finish="STOP")).encode()])
    assert parser.end_of_stream()[-1].message.stop_reason is StopReason.STOP
