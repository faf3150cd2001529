"""The Anthropic Messages stream, on the pure and the native parser alike (the
acceptance cases of the Anthropic wire-format notes that concern parsing)."""

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
    ProviderError,
    StopReason,
    StreamFormatError,
    TextContent,
    ThinkingContent,
    ThinkingEndEvent,
    ToolCallDeltaEvent,
)
from tinyagent.transports import make_byte_parser

MODEL = Model(
    "claude-x",
    "http://127.0.0.1:1/v1",
    api="anthropic-messages",
    provider="anthropic",
    cost=ModelCost(3, 15, 0.3, 3.75),
)


def ev(obj: dict[str, Any], crlf: bool = False) -> bytes:
    text = f"event: {obj.get('type', 'x')}\ndata: {json.dumps(obj)}\n\n"
    return (text.replace("\n", "\r\n") if crlf else text).encode()


def start(usage: dict[str, Any] | None = None, mid: str = "msg_1") -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {"id": mid, "usage": usage or {"input_tokens": 12, "output_tokens": 1}},
    }


def block(index: int, content_block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": content_block}


def delta(index: int, d: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": d}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def end(reason: str = "end_turn", usage: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": reason},
            "usage": usage or {"output_tokens": 30},
        },
        {"type": "message_stop"},
    ]


def text_events(text: str = "Hello! I'm doing well") -> list[dict[str, Any]]:
    return [
        start(),
        block(0, {"type": "text", "text": ""}),
        {"type": "ping"},
        delta(0, {"type": "text_delta", "text": text[:6]}),
        {"type": "ping"},
        delta(0, {"type": "text_delta", "text": text[6:]}),
        stop(0),
        *end(),
    ]


@pytest.fixture(params=["pure", "native"])
def native(request: pytest.FixtureRequest) -> bool:
    return request.param == "native"


def parse(body: bytes, native: bool, piece: int | None = None) -> list[Any]:
    p = make_byte_parser(MODEL, native=native)
    out: list[Any] = []
    step = piece or len(body) or 1
    for i in range(0, len(body), step):
        out += p.feed(body[i : i + step])
    if p.message is None:
        out += p.end_of_stream()
    return out


def final(events: list[Any]) -> Any:
    assert isinstance(events[-1], DoneEvent | ErrorEvent)
    return events[-1]


def test_text_with_pings(native: bool) -> None:
    events = parse(b"".join(ev(e) for e in text_events()), native)
    done = final(events)
    assert isinstance(done, DoneEvent)
    m = done.message
    assert m.text == "Hello! I'm doing well" and m.content == (
        TextContent("Hello! I'm doing well"),
    )
    assert m.stop_reason is StopReason.STOP and m.provider_stop_reason == "end_turn"
    assert (m.usage.input, m.usage.output) == (12, 30)
    assert m.usage.cost is not None and m.usage.cost.total == pytest.approx(
        (12 * 3 + 30 * 15) / 1e6
    )
    assert m.response_id == "msg_1" and m.api == "anthropic-messages" and m.failure is None


def test_one_byte_reads_crlf_comments_and_split_utf8_change_nothing(native: bool) -> None:
    events = text_events("héllo 😊 wörld")
    plain = parse(b"".join(ev(e) for e in events), native)
    hostile = b": comment\r\n" + b"".join(ev(e, crlf=True) for e in events)
    assert [type(e) for e in parse(hostile, native, piece=1)] == [type(e) for e in plain]
    assert final(parse(hostile, native, piece=1)).message.text == "héllo 😊 wörld"


def test_data_split_over_two_lines(native: bool) -> None:
    body = b"".join(ev(e) for e in text_events()[:-2])
    body += b'data: {"type": "message_delta",\ndata:"delta": {"stop_reason": "end_turn"}}\n\n'
    body += ev({"type": "message_stop"})
    assert final(parse(body, native)).message.provider_stop_reason == "end_turn"


@pytest.mark.parametrize("with_empty_delta", [True, False])
def test_tool_without_arguments_is_an_empty_object(native: bool, with_empty_delta: bool) -> None:
    events = [start(), block(0, {"type": "tool_use", "id": "toolu_1", "name": "list", "input": {}})]
    if with_empty_delta:
        events.append(delta(0, {"type": "input_json_delta", "partial_json": ""}))
    events += [stop(0), *end("tool_use")]
    m = final(parse(b"".join(ev(e) for e in events), native)).message
    (call,) = m.tool_calls
    assert (call.id, call.name, call.arguments, call.arguments_error) == (
        "toolu_1",
        "list",
        {},
        None,
    )
    assert m.stop_reason is StopReason.TOOL_USE


def test_tool_input_is_joined_then_parsed_once(native: bool) -> None:
    frags = ['{"lo', 'cation": "Bos', 'ton"}']
    events = [start(), block(0, {"type": "tool_use", "id": "t", "name": "weather", "input": {}})]
    events += [delta(0, {"type": "input_json_delta", "partial_json": f}) for f in frags]
    events += [stop(0), *end("tool_use")]
    out = parse(b"".join(ev(e) for e in events), native)
    assert [e.delta for e in out if isinstance(e, ToolCallDeltaEvent)] == frags
    assert final(out).message.tool_calls[0].arguments == {"location": "Boston"}


def test_tool_input_given_whole_in_the_start_event(native: bool) -> None:
    events = [
        start(),
        block(0, {"type": "tool_use", "id": "t", "name": "f", "input": {"q": "é", "n": 2}}),
    ]
    events += [stop(0), *end("tool_use")]
    assert final(parse(b"".join(ev(e) for e in events), native)).message.tool_calls[
        0
    ].arguments == {"q": "é", "n": 2}


def test_invalid_tool_json_is_kept_verbatim_with_an_error(native: bool) -> None:
    events = [
        start(),
        block(0, {"type": "tool_use", "id": "t", "name": "f", "input": {}}),
        delta(0, {"type": "input_json_delta", "partial_json": '{"city": INVALID}'}),
        stop(0),
        *end("tool_use"),
    ]
    call = final(parse(b"".join(ev(e) for e in events), native)).message.tool_calls[0]
    assert call.arguments == {} and call.raw_arguments == '{"city": INVALID}'
    assert call.arguments_error is not None and "not valid JSON" in call.arguments_error


def test_thinking_signature_and_redacted_thinking_are_kept_in_order(native: bool) -> None:
    events = [
        start(),
        block(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "Let me "}),
        delta(0, {"type": "thinking_delta", "thinking": "think."}),
        delta(0, {"type": "signature_delta", "signature": "EqQBCgIYAhIM"}),
        stop(0),
        block(1, {"type": "redacted_thinking", "data": "ENCRYPTED"}),
        stop(1),
        block(2, {"type": "text", "text": ""}),
        delta(2, {"type": "text_delta", "text": "Answer"}),
        stop(2),
        *end(),
    ]
    out = parse(b"".join(ev(e) for e in events), native)
    m = final(out).message
    assert m.content == (
        ThinkingContent("Let me think.", "EqQBCgIYAhIM"),
        ThinkingContent("", "ENCRYPTED", redacted=True),
        TextContent("Answer"),
    )
    ends = [e.content for e in out if isinstance(e, ThinkingEndEvent)]
    assert ends == list(m.content[:2])


def test_usage_is_replaced_never_added(native: bool) -> None:
    events = [
        start(
            {
                "input_tokens": 43,
                "output_tokens": 1,
                "cache_read_input_tokens": 1800,
                "cache_creation_input_tokens": 200,
            }
        ),
        *end("end_turn", {"input_tokens": 61, "output_tokens": 2}),
    ]
    u = final(parse(b"".join(ev(e) for e in events), native)).message.usage
    assert (u.input, u.output, u.cache_read, u.cache_write) == (61, 2, 1800, 200)
    assert u.total == 61 + 2 + 1800 + 200


@pytest.mark.parametrize(
    ("reason", "stop_reason"),
    [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("tool_use", "tool_use"),
        ("pause_turn", "stop"),
        ("refusal", "stop"),
        ("model_context_window_exceeded", "error"),
        ("something_new", "stop"),
    ],
)
def test_every_stop_reason_maps_and_is_kept(native: bool, reason: str, stop_reason: str) -> None:
    m = final(parse(b"".join(ev(e) for e in [start(), *end(reason)]), native)).message
    assert m.stop_reason == stop_reason and m.provider_stop_reason == reason
    if reason == "model_context_window_exceeded":
        assert m.failure is not None and m.failure.kind is FailureKind.CONTEXT_OVERFLOW
        assert "context window" in (m.error_message or "")
    else:
        assert m.failure is None


def test_error_event_ends_the_message_keeping_what_arrived(native: bool) -> None:
    events = [
        start(),
        block(0, {"type": "text", "text": ""}),
        delta(0, {"type": "text_delta", "text": "partial"}),
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    ]
    out = parse(b"".join(ev(e) for e in events), native)
    err = final(out)
    assert isinstance(err, ErrorEvent) and isinstance(err.error, ProviderError)
    m = err.message
    assert m.stop_reason is StopReason.ERROR and m.text == "partial"
    assert m.error_message == "Overloaded"
    assert m.failure is not None and m.failure.kind is FailureKind.OVERLOADED
    assert m.failure.code == "overloaded_error"


def test_a_stream_without_message_stop_is_truncated(native: bool) -> None:
    events = [
        start(),
        block(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "half a thought"}),
    ]
    err = final(parse(b"".join(ev(e) for e in events), native))
    m = err.message
    assert m.stop_reason is StopReason.ERROR
    assert m.error_message == "the stream ended before message_stop (truncated reply)"
    assert m.content == (
        ThinkingContent("half a thought", None),
    )  # no signature: never replayed as thinking
    assert m.failure is not None and m.failure.kind is FailureKind.MALFORMED_STREAM


def test_duplicate_message_start_is_ignored_and_a_spliced_one_fails(native: bool) -> None:
    ok = [start(), start(), *text_events()[1:]]
    assert isinstance(final(parse(b"".join(ev(e) for e in ok), native)), DoneEvent)
    spliced = [
        start(),
        block(0, {"type": "text", "text": ""}),
        delta(0, {"type": "text_delta", "text": "kept"}),
        start(mid="msg_2"),
        *end(),
    ]
    err = final(parse(b"".join(ev(e) for e in spliced), native))
    assert isinstance(err, ErrorEvent) and isinstance(err.error, StreamFormatError)
    assert err.message.text == "kept" and "broke its protocol" in (err.message.error_message or "")


def test_unknown_events_blocks_and_deltas_are_skipped(native: bool) -> None:
    events = [
        start(),
        {"type": "foo_bar", "x": 1},
        block(0, {"type": "fancy_block", "stuff": [1, 2]}),
        delta(0, {"type": "fancy_delta", "more": True}),
        stop(0),
        block(1, {"type": "server_tool_use", "id": "srv", "name": "web_search", "input": {}}),
        delta(1, {"type": "input_json_delta", "partial_json": '{"q": "x"}'}),
        stop(1),
        block(2, {"type": "web_search_tool_result", "tool_use_id": "srv", "content": []}),
        stop(2),
        block(3, {"type": "text", "text": ""}),
        delta(3, {"type": "citations_delta", "citation": {"type": "char_location"}}),
        delta(3, {"type": "text_delta", "text": "ok"}),
        stop(3),
        *end(),
    ]
    m = final(parse(b"".join(ev(e) for e in events), native)).message
    assert m.content == (TextContent("ok"),) and m.tool_calls == ()


def test_not_json_fails_with_the_chunk_quoted(native: bool) -> None:
    err = final(parse(ev(start()) + b"data: {oops\n\n", native))
    assert isinstance(err.error, StreamFormatError)
    assert (
        "malformed JSON chunk" in (err.message.error_message or "")
        and "{oops" in err.message.error_message
    )


def test_a_delta_after_its_block_stopped_changes_nothing(native: bool) -> None:
    events = [
        start(),
        block(0, {"type": "tool_use", "id": "t", "name": "f", "input": {}}),
        delta(0, {"type": "input_json_delta", "partial_json": '{"a": 1}'}),
        stop(0),
        delta(0, {"type": "input_json_delta", "partial_json": "garbage"}),
        *end("tool_use"),
    ]
    out = parse(b"".join(ev(e) for e in events), native)
    (end_event,) = [e for e in out if e.type == "toolcall_end"]
    assert final(out).message.tool_calls == (end_event.tool_call,)
    assert end_event.tool_call.arguments == {"a": 1}


def test_a_duplicated_key_reads_as_its_last_value(native: bool) -> None:
    body = ev(start()) + ev(block(0, {"type": "text", "text": ""}))
    body += b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x","text":"y"}}\n\n'
    body += b"".join(ev(e) for e in [stop(0), *end()])
    assert final(parse(body, native)).message.text == "y"


# --- pinned down after the mutation run (benches/mutation.py) -----------------------


def test_consecutive_thinking_blocks_stay_apart(native: bool) -> None:
    events = [start()]
    for i, (text, sig) in enumerate([("first", "S1"), ("second", "S2")]):
        events += [
            block(i, {"type": "thinking", "thinking": "", "signature": ""}),
            delta(i, {"type": "thinking_delta", "thinking": text}),
            delta(i, {"type": "signature_delta", "signature": sig}),
            stop(i),
        ]
    events += [
        block(2, {"type": "redacted_thinking", "data": "E1"}),
        stop(2),
        block(3, {"type": "redacted_thinking"}),
        stop(3),
        *end(),
    ]
    m = final(parse(b"".join(ev(e) for e in events), native)).message
    assert m.content == (
        ThinkingContent("first", "S1"),
        ThinkingContent("second", "S2"),
        ThinkingContent("", "E1", redacted=True),
        ThinkingContent("", "", redacted=True),
    )


def test_start_input_is_used_only_without_deltas(native: bool) -> None:
    events = [
        start(),
        block(0, {"type": "tool_use", "id": "t", "name": "f", "input": {"old": 1}}),
        delta(0, {"type": "input_json_delta", "partial_json": '{"new": 2}'}),
        stop(0),
        *end("tool_use"),
    ]
    assert final(parse(b"".join(ev(e) for e in events), native)).message.tool_calls[
        0
    ].arguments == {"new": 2}


def test_deltas_of_the_wrong_kind_for_their_block_are_ignored(native: bool) -> None:
    events = [
        start(),
        block(0, {"type": "text", "text": ""}),
        delta(0, {"type": "text_delta", "text": "a"}),
        delta(0, {"type": "thinking_delta", "thinking": "not here"}),
        delta(0, {"type": "signature_delta", "signature": "nor this"}),
        delta(0, {"type": "input_json_delta", "partial_json": "{}"}),
        stop(0),
        block(1, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(1, {"type": "text_delta", "text": "not text"}),
        delta(1, {"type": "thinking_delta", "thinking": "t"}),
        stop(1),
        *end(),
    ]
    m = final(parse(b"".join(ev(e) for e in events), native)).message
    assert m.content == (TextContent("a"), ThinkingContent("t", None))


def test_missing_or_ill_typed_fields_read_as_empty(native: bool) -> None:
    events = [
        start(),
        block(0, {"type": "tool_use", "input": {}}),
        stop(0),
        block(1, {"type": "tool_use", "id": 5, "name": ["f"], "input": {}}),
        stop(1),
        block(2, {"type": "text", "text": 7}),
        delta(2, {"type": "text_delta", "text": 8}),
        stop(2),
        *end("tool_use"),
    ]
    m = final(parse(b"".join(ev(e) for e in events), native)).message
    assert [(c.id, c.name) for c in m.tool_calls] == [("", ""), ("", "")]
    assert m.text == ""


def test_errors_name_the_provider_and_their_type(native: bool) -> None:
    events = [start(), {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}]
    err = final(parse(b"".join(ev(e) for e in events), native))
    assert isinstance(err.error, ProviderError)
    assert (err.error.provider, err.error.model) == ("anthropic", "claude-x")
    assert (
        err.message.failure.kind is FailureKind.RATE_LIMIT
        and err.message.failure.code == "rate_limit_error"
    )
    overflow = final(
        parse(b"".join(ev(e) for e in [start(), *end("model_context_window_exceeded")]), native)
    )
    assert overflow.message.failure.code == "model_context_window_exceeded"


def test_a_thinking_block_started_before_the_last_one_stopped_is_its_own(native: bool) -> None:
    events = [
        start(),
        block(0, {"type": "thinking", "thinking": "a", "signature": ""}),
        block(1, {"type": "thinking", "thinking": "b", "signature": ""}),
        block(2, {"type": "redacted_thinking", "data": "E"}),
        *end(),
    ]
    m = final(parse(b"".join(ev(e) for e in events), native)).message
    assert m.content == (
        ThinkingContent("a"),
        ThinkingContent("b"),
        ThinkingContent("", "E", redacted=True),
    )


def test_a_block_ends_at_its_stop_not_later(native: bool) -> None:
    p = make_byte_parser(MODEL, native=native)
    out = p.feed(
        ev(start()) + ev(block(0, {"type": "redacted_thinking", "data": "E"})) + ev(stop(0))
    )
    assert [type(e).__name__ for e in out] == ["ThinkingStartEvent", "ThinkingEndEvent"]


def test_start_input_raw_text_is_compact_json(native: bool) -> None:
    events = [
        start(),
        block(0, {"type": "tool_use", "id": "t", "name": "f", "input": {"q": "é", "n": [1, 2]}}),
        stop(0),
        *end("tool_use"),
    ]
    out = parse(b"".join(ev(e) for e in events), native)
    assert [e.delta for e in out if isinstance(e, ToolCallDeltaEvent)] == ['{"q":"é","n":[1,2]}']


def test_the_argument_bound_applies(native: bool) -> None:
    p = make_byte_parser(MODEL, native=native, max_argument_bytes=8)
    events = [
        start(),
        block(0, {"type": "tool_use", "id": "t", "name": "f", "input": {}}),
        delta(0, {"type": "input_json_delta", "partial_json": '{"a": "12345"}'}),
    ]
    out = p.feed(b"".join(ev(e) for e in events))
    assert isinstance(out[-1], ErrorEvent)
    assert out[-1].message.error_message == "arguments of tool call 'f' exceed 8 bytes"
