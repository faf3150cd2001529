"""The ConverseStream parser's rules one by one, over real frames (the pure parser; the
native one is held to the same events by tests/providers/test_bedrock_parity.py)."""

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
from tinyagent.wire import encode_frame

MODEL = Model("anthropic.claude-x", "http://127.0.0.1:1/v1", api="bedrock-converse")


def frame(kind: str, member: Any, message_type: str = "event") -> bytes:
    key = ":exception-type" if message_type == "exception" else ":event-type"
    payload = member if isinstance(member, bytes) else json.dumps(member).encode()
    return encode_frame({key: kind, ":message-type": message_type}, payload)


def delta(index: Any, d: Any) -> bytes:
    return frame("contentBlockDelta", {"contentBlockIndex": index, "delta": d})


def stop(index: Any) -> bytes:
    return frame("contentBlockStop", {"contentBlockIndex": index})


END = frame("messageStop", {"stopReason": "end_turn"})


def run(*frames: bytes, **options: Any) -> Any:
    parser = make_byte_parser(MODEL, **options)
    events = parser.feed(b"".join(frames)) + parser.end_of_stream()
    assert isinstance(events[-1], DoneEvent | ErrorEvent)
    return events[-1].message


def test_reasoning_text_tool_and_usage() -> None:
    m = run(
        frame("messageStart", {"role": "assistant"}),
        delta(0, {"reasoningContent": {"text": "hm"}}),
        delta(0, {"reasoningContent": {"text": "m"}}),
        delta(0, {"reasoningContent": {"signature": "SIG"}}),
        stop(0),
        delta(1, {"text": "Hi"}),
        delta(1, {"text": ""}),
        stop(1),
        frame(
            "contentBlockStart",
            {
                "contentBlockIndex": 2,
                "start": {"toolUse": {"toolUseId": "t1", "name": "f", "type": "tool_use"}},
            },
        ),
        delta(2, {"toolUse": {"input": '{"a":'}}),
        delta(2, {"toolUse": {"input": "1}"}}),
        stop(2),
        frame("messageStop", {"stopReason": "tool_use"}),
        frame(
            "metadata",
            {
                "usage": {
                    "inputTokens": 5,
                    "outputTokens": 7,
                    "cacheReadInputTokens": 2,
                    "cacheWriteInputTokens": 3,
                }
            },
        ),
    )
    assert m.content == (
        ThinkingContent("hmm", "SIG"),
        TextContent("Hi"),
        ToolCall("t1", "f", {"a": 1}),
    )
    assert m.stop_reason is StopReason.TOOL_USE and m.provider_stop_reason == "tool_use"
    assert (m.usage.input, m.usage.output, m.usage.cache_read, m.usage.cache_write) == (5, 7, 2, 3)


def test_redacted_reasoning_and_unsigned_reasoning() -> None:
    m = run(
        delta(0, {"reasoningContent": {"redactedContent": "UkVE"}}),
        stop(0),
        delta(1, {"reasoningContent": {"text": "open"}}),
        stop(1),
        END,
    )
    assert m.content == (ThinkingContent("", "UkVE", redacted=True), ThinkingContent("open"))


def test_server_tools_and_their_results_are_not_client_calls() -> None:
    m = run(
        frame(
            "contentBlockStart",
            {
                "contentBlockIndex": 0,
                "start": {
                    "toolUse": {
                        "toolUseId": "s",
                        "name": "nova_code_interpreter",
                        "type": "server_tool_use",
                    }
                },
            },
        ),
        delta(0, {"toolUse": {"input": "{}"}}),
        stop(0),
        frame(
            "contentBlockStart",
            {"contentBlockIndex": 1, "start": {"toolResult": {"toolUseId": "s"}}},
        ),
        delta(1, {"toolResult": [{"json": {}}]}),
        delta(1, {"text": "not text: the block is a result"}),
        stop(1),
        delta(2, {"text": "done"}),
        END,
    )
    assert m.content == (TextContent("done"),) and m.stop_reason is StopReason.STOP


def test_a_block_that_never_had_deltas_ends_as_nothing() -> None:
    assert run(stop(0), stop(7), delta(1, {"text": "x"}), stop(1), END).content == (
        TextContent("x"),
    )


def test_an_empty_tool_input_is_an_empty_object() -> None:
    m = run(
        frame(
            "contentBlockStart",
            {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "t", "name": "f"}}},
        ),
        delta(0, {"toolUse": {"input": ""}}),
        stop(0),
        END,
    )
    assert m.content == (ToolCall("t", "f", {}),)


@pytest.mark.parametrize(
    ("reason", "stop_reason", "kind"),
    [
        ("max_tokens", StopReason.LENGTH, None),
        ("stop_sequence", StopReason.STOP, None),
        ("guardrail_intervened", StopReason.ERROR, FailureKind.CONTENT_FILTER),
        ("content_filtered", StopReason.ERROR, FailureKind.CONTENT_FILTER),
        ("model_context_window_exceeded", StopReason.ERROR, FailureKind.CONTEXT_OVERFLOW),
        ("brand_new", StopReason.STOP, None),
    ],
)
def test_stop_reasons(reason: str, stop_reason: StopReason, kind: FailureKind | None) -> None:
    m = run(delta(0, {"text": "a"}), frame("messageStop", {"stopReason": reason}))
    assert m.stop_reason is stop_reason and m.provider_stop_reason == reason
    assert (m.failure.kind if m.failure else None) == kind


@pytest.mark.parametrize(
    ("name", "status", "kind"),
    [
        ("throttlingException", 429, FailureKind.RATE_LIMIT),
        ("modelStreamErrorException", 424, FailureKind.SERVER),
        ("internalServerException", 500, FailureKind.SERVER),
        ("serviceUnavailableException", 503, FailureKind.OVERLOADED),
        ("validationException", 400, FailureKind.INVALID_REQUEST),
        ("somethingNewException", None, FailureKind.SERVER),
    ],
)
def test_exception_frames_are_typed_failures_that_keep_what_came(
    name: str, status: int | None, kind: FailureKind
) -> None:
    m = run(delta(0, {"text": "kept"}), frame(name, {"message": "no"}, "exception"))
    assert m.stop_reason is StopReason.ERROR and m.error_message == f"{name}: no"
    assert m.failure is not None and (m.failure.kind, m.failure.status, m.failure.code) == (
        kind,
        status,
        name,
    )
    assert m.content == (TextContent("kept"),)


def test_an_error_frame_and_an_exception_without_a_message() -> None:
    error = encode_frame({":message-type": "error", ":error-code": "X"}, b"")
    assert run(error).error_message == "error (no message)"
    assert (
        run(frame("throttlingException", {}, "exception")).error_message
        == "throttlingException (no message)"
    )


def test_a_body_without_message_stop_is_truncated() -> None:
    m = run(delta(0, {"text": "partial"}))
    assert m.error_message == "the stream ended before messageStop (truncated reply)"
    assert m.content == (TextContent("partial"),)


@pytest.mark.parametrize(
    "bad",
    [
        frame("contentBlockStart", {"contentBlockIndex": None, "start": {}}),
        frame("contentBlockStart", {"contentBlockIndex": -1}),
        delta("0", {"text": "x"}),
        delta(5, {"toolUse": {"input": "{}"}}),  # input for a block never started
    ],
)
def test_what_cannot_be_placed_is_a_protocol_violation(bad: bytes) -> None:
    m = run(delta(0, {"text": "kept"}), bad, END)
    assert m.stop_reason is StopReason.ERROR and m.content == (TextContent("kept"),)
    assert m.error_message.startswith("the stream broke its protocol: ")


def test_a_block_started_twice_is_a_protocol_violation() -> None:
    start = frame(
        "contentBlockStart",
        {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "t", "name": "f"}}},
    )
    assert run(start, start, END).error_message.startswith("the stream broke its protocol: ")


@pytest.mark.parametrize(
    "odd",
    [
        frame("messageStart", {"role": "assistant"}),
        frame("contentBlockDelta", "not an object"),
        delta(0, "not a delta"),
        delta(0, {"citation": {}}),
        frame("metadata", {"usage": "x"}),
        frame("newEvent", {"x": 1}),
        encode_frame({":message-type": "event"}, b"{}"),  # no type: skipped
    ],
)
def test_odd_shapes_are_skipped(odd: bytes) -> None:
    m = run(delta(0, {"text": "a"}), odd, END)
    assert m.stop_reason is StopReason.STOP and m.text == "a"


def test_usage_counts_are_json_integers_in_range() -> None:
    usage = {
        "inputTokens": -1,
        "outputTokens": 2**63,
        "cacheReadInputTokens": 1.5,
        "cacheWriteInputTokens": True,
    }
    m = run(END, frame("metadata", {"usage": usage}))
    assert (m.usage.input, m.usage.output, m.usage.cache_read, m.usage.cache_write) == (0, 0, 0, 0)


def test_not_json_is_a_malformed_chunk() -> None:
    m = run(delta(0, {"text": "a"}), frame("contentBlockDelta", b"{not json"))
    assert m.stop_reason is StopReason.ERROR and m.content == (TextContent("a"),)


def test_corrupt_and_oversized_frames_fail_keeping_what_came() -> None:
    good = delta(0, {"text": "kept"})
    bad = bytearray(delta(0, {"text": "x"}))
    bad[-1] ^= 1
    m = run(good, bytes(bad))
    assert m.error_message == "corrupt event stream: a frame fails its CRC32"
    assert m.content == (TextContent("kept"),)
    m = run(good, delta(0, {"text": "y" * 200}), max_line_bytes=150)
    assert m.error_message.startswith("event stream frame of ") and m.error_message.endswith(
        "over the limit of 150"
    )
    assert m.content == (TextContent("kept"),)
    cut = run(good, END[:-2])
    assert cut.error_message == "the stream ended in the middle of an event (truncated reply)"


def test_a_block_stop_ends_its_block_where_it_comes() -> None:
    from tinyagent import TextEndEvent, ToolCallEndEvent

    m = run(delta(0, {"text": "a"}), stop(0), delta(1, {"text": "b"}), stop(1), END)
    assert m.content == (TextContent("a"), TextContent("b"))  # two blocks, not "ab"
    start = frame(
        "contentBlockStart",
        {"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "t", "name": "f"}}},
    )
    m = run(start, delta(2, {"toolUse": {"input": '{"a":'}}), delta(2, {"toolUse": {"input": "1}"}}),
            stop(2), delta(2, {"toolUse": {"input": "junk"}}), END)  # fmt: skip
    assert m.content == (ToolCall("t", "f", {"a": 1}),)  # input after its stop: not taken
    parser = make_byte_parser(MODEL)
    events = parser.feed(b"".join([start, stop(2), delta(3, {"text": "x"}), stop(3)]))
    kinds = [type(e) for e in events if isinstance(e, ToolCallEndEvent | TextEndEvent)]
    assert kinds == [ToolCallEndEvent, TextEndEvent]  # each ended at its own stop


def test_reasoning_blocks_without_a_stop_between_stay_apart() -> None:
    m = run(
        delta(0, {"reasoningContent": {"text": "x", "signature": "S"}}),
        delta(1, {"reasoningContent": {"text": "y"}}),
        END,
    )
    assert m.content == (ThinkingContent("x", "S"), ThinkingContent("y"))


def test_wrong_types_and_missing_fields() -> None:
    start = frame(
        "contentBlockStart", {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": 5}}}
    )
    odd_start = frame("contentBlockStart", {"contentBlockIndex": 1, "start": "x"})
    m = run(start, stop(0), odd_start, delta(1, {"text": "ignored: the block is not text"}), END)
    assert m.content == (ToolCall("", "", {}),)
    assert run(frame("throttlingException", {"message": 5}, "exception")).error_message == (
        "throttlingException (no message)"
    )


def test_the_largest_index_and_one_past_it() -> None:
    top = 2**63 - 1
    assert run(delta(top, {"text": "a"}), stop(top), END).text == "a"
    assert run(delta(2**63, {"text": "a"}), END).error_message.startswith(
        "the stream broke its protocol"
    )


def test_frames_after_the_end_in_the_same_read_are_not_read() -> None:
    parser = make_byte_parser(MODEL)
    events = parser.feed(
        frame("throttlingException", {"message": "x"}, "exception") + delta(0, {"text": "late"})
    )
    assert isinstance(events[-1], ErrorEvent) and events[-1].message.content == ()
    assert parser.feed(delta(0, {"text": "later"})) == []


def test_errors_carry_their_exception_and_name_the_model() -> None:
    parser = make_byte_parser(MODEL)
    events = parser.feed(frame("contentBlockDelta", b"{not json"))
    assert type(events[-1].error).__name__ == "StreamFormatError"
    parser = make_byte_parser(MODEL)
    error = parser.feed(frame("throttlingException", {"message": "x"}, "exception"))[-1].error
    assert (error.provider, error.model, error.status) == ("127.0.0.1", "anthropic.claude-x", 429)


def test_the_parser_alone_and_its_bounds() -> None:
    from tinyagent.providers.bedrock._parser import BedrockParser

    parser = BedrockParser(MODEL, 4)
    payloads = [
        b'{"contentBlockStart":{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"t","name":"f"}}}}',
        b'{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"toolUse":{"input":"{\\"long\\": 1}"}}}}',
    ]
    events = parser.feed_data(payloads)
    assert events[-1].message.stop_reason is StopReason.ERROR  # past 4 bytes of arguments
    parser = BedrockParser(MODEL)
    parser.feed_data([b'{"messageStop":{"stopReason":"content_filtered"}}'])
    end = parser.end_of_stream()[-1].message
    assert end.error_message == "the reply was stopped by Bedrock (content_filtered)"
    assert end.failure.code == "content_filtered"


def test_an_overflowed_context_window_is_typed_and_worded() -> None:
    m = run(frame("messageStop", {"stopReason": "model_context_window_exceeded"}))
    assert m.error_message == "the prompt is longer than the model's context window"
    assert (m.failure.kind, m.failure.code) == (
        FailureKind.CONTEXT_OVERFLOW,
        "model_context_window_exceeded",
    )
