"""The sans-IO chat-completions parser, driven directly with chunk dicts."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tinyagent import (
    DoneEvent,
    ErrorEvent,
    Model,
    ModelCost,
    ServerSentEvent,
    StopReason,
    TextDeltaEvent,
    TextEndEvent,
    TextStartEvent,
    ThinkingDeltaEvent,
    ToolCallDeltaEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
)
from tinyagent.providers.openai_chat._parser import OpenAIChatParser
from tinyagent.testing import chunk

MODEL = Model("m", "http://127.0.0.1:1/v1")


def run(
    chunks: list[dict[str, Any]], *, done: bool = True, model: Model = MODEL
) -> tuple[list[Any], OpenAIChatParser]:
    p = OpenAIChatParser(model)
    events: list[Any] = []
    for c in chunks:
        events += p.feed_chunk(c)
    if done:
        events += p.feed_event(ServerSentEvent("[DONE]"))
    events += p.end_of_stream()
    return events, p


def test_text_events_carry_only_their_delta_and_index() -> None:
    events, p = run(
        [chunk({"content": "Hel"}), chunk({"content": "lo"}), chunk({}, finish_reason="stop")]
    )
    assert events[:3] == [TextStartEvent(0), TextDeltaEvent(0, "Hel"), TextDeltaEvent(0, "lo")]
    assert isinstance(events[3], TextEndEvent) and events[3].content.text == "Hello"
    assert isinstance(events[-1], DoneEvent)
    assert p.message is not None and p.message.text == "Hello"
    assert p.message.stop_reason is StopReason.STOP


def test_reasoning_from_each_field_and_details_counted_once() -> None:
    events, p = run(
        [
            chunk({"reasoning_content": "a"}),
            chunk({"reasoning": "b"}),
            # OpenRouter sends reasoning and reasoning_details with the same text.
            chunk(
                {"reasoning": "c", "reasoning_details": [{"type": "reasoning.text", "text": "c"}]}
            ),
            chunk({"reasoning_details": [{"type": "reasoning.text", "text": "d"}]}),
            chunk({"reasoning_details": [{"type": "reasoning.summary", "summary": "e"}]}),
            chunk({"content": "answer"}),
            chunk({}, finish_reason="stop"),
        ]
    )
    assert p.message is not None
    assert p.message.thinking == "abcde"
    assert p.message.text == "answer"
    assert [e.delta for e in events if isinstance(e, ThinkingDeltaEvent)] == list("abcde")


def test_tool_calls_by_index_id_and_name_only_first() -> None:
    events, p = run(
        [
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "c0", "function": {"name": "f", "arguments": '{"a"'}}
                    ]
                }
            ),
            chunk(
                {
                    "tool_calls": [
                        {"index": 1, "id": "c1", "function": {"name": "g", "arguments": ""}}
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}),
            chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"b": [2]}'}}]}),
            chunk({}, finish_reason="tool_calls"),
        ]
    )
    assert p.message is not None
    calls = p.message.tool_calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("c0", "f", {"a": 1}),
        ("c1", "g", {"b": [2]}),
    ]
    assert p.message.stop_reason is StopReason.TOOL_USE
    starts = [e for e in events if isinstance(e, ToolCallStartEvent)]
    assert [(s.index, s.id, s.name) for s in starts] == [(0, "c0", "f"), (1, "c1", "g")]
    deltas = [(e.index, e.delta) for e in events if isinstance(e, ToolCallDeltaEvent)]
    assert deltas == [(0, '{"a"'), (0, ": 1}"), (1, '{"b": [2]}')]
    ends = [e for e in events if isinstance(e, ToolCallEndEvent)]
    assert [e.tool_call for e in ends] == list(calls)


def test_invalid_tool_arguments_are_kept_and_flagged_never_replaced() -> None:
    _, p = run(
        [
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "c0", "function": {"name": "f", "arguments": '{"a": 1,'}}
                    ]
                }
            ),
            chunk(
                {
                    "tool_calls": [
                        {"index": 1, "id": "c1", "function": {"name": "g", "arguments": "[1]"}}
                    ]
                }
            ),
            chunk({}, finish_reason="tool_calls"),
        ]
    )
    assert p.message is not None
    bad, notobj = p.message.tool_calls
    assert bad.raw_arguments == '{"a": 1,' and not bad.arguments_valid
    assert bad.arguments_error is not None and "not valid JSON" in bad.arguments_error
    assert notobj.raw_arguments == "[1]" and "JSON object" in (notobj.arguments_error or "")


def test_empty_arguments_mean_no_arguments() -> None:
    _, p = run(
        [
            chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "now"}}]}),
            chunk({}, finish_reason="tool_calls"),
        ]
    )
    assert p.message is not None
    assert p.message.tool_calls[0].arguments == {} and p.message.tool_calls[0].arguments_valid


def test_usage_from_trailing_chunk_with_cache_and_reasoning_and_cost() -> None:
    model = Model("m", "http://x/v1", cost=ModelCost(input=1.0, output=2.0, cache_read=0.5))
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 500,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 400},
        "completion_tokens_details": {"reasoning_tokens": 100},
    }
    _, p = run(
        [
            chunk({"content": "x"}),
            chunk({}, finish_reason="stop"),
            chunk(usage=usage, choices=False),
        ],
        model=model,
    )
    assert p.message is not None
    u = p.message.usage
    assert (u.input, u.output, u.cache_read, u.cache_write, u.reasoning) == (600, 500, 400, 0, 100)
    assert u.total == 1500
    assert u.cost is not None
    assert abs(u.cost.total - (600 * 1 + 500 * 2 + 400 * 0.5) / 1e6) < 1e-12


def test_no_prices_means_no_cost() -> None:
    _, p = run(
        [chunk({}, finish_reason="stop", usage={"prompt_tokens": 3, "completion_tokens": 1})]
    )
    assert p.message is not None and p.message.usage.cost is None and p.message.usage.input == 3


def test_groq_usage_under_x_groq() -> None:
    c = chunk({}, finish_reason="stop")
    c["x_groq"] = {"usage": {"prompt_tokens": 7, "completion_tokens": 2}}
    _, p = run([c])
    assert p.message is not None and (p.message.usage.input, p.message.usage.output) == (7, 2)


def test_finish_reasons() -> None:
    for reason, stop in [
        ("stop", StopReason.STOP),
        ("length", StopReason.LENGTH),
        ("tool_calls", StopReason.TOOL_USE),
        ("content_filter", StopReason.ERROR),
    ]:
        events, p = run([chunk({"content": "x"}), chunk({}, finish_reason=reason)])
        assert p.message is not None and p.message.stop_reason is stop
        assert p.message.provider_stop_reason == reason
        assert isinstance(events[-1], ErrorEvent if stop is StopReason.ERROR else DoneEvent)
    assert p.message.error_message is not None and "content_filter" in p.message.error_message


def test_stop_with_tool_calls_is_tool_use() -> None:
    _, p = run(
        [
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}
                    ]
                }
            ),
            chunk({}, finish_reason="stop"),
        ]
    )
    assert p.message is not None and p.message.stop_reason is StopReason.TOOL_USE


def test_error_object_in_stream_keeps_partial_reply() -> None:
    events, p = run(
        [chunk({"content": "part"}), {"error": {"message": "upstream overloaded", "code": 502}}],
        done=False,
    )
    assert isinstance(events[-1], ErrorEvent)
    assert p.message is not None
    assert p.message.stop_reason is StopReason.ERROR
    assert p.message.error_message == "upstream overloaded"
    assert p.message.text == "part"


def test_malformed_json_chunk_is_an_error_that_quotes_it_and_keeps_text() -> None:
    p = OpenAIChatParser(MODEL)
    p.feed_chunk(chunk({"content": "kept"}))
    events = p.feed_event(ServerSentEvent('{"choices": [oops'))
    assert isinstance(events[-1], ErrorEvent)
    assert p.message is not None and p.message.text == "kept"
    assert "malformed JSON" in (p.message.error_message or "") and "oops" in (
        p.message.error_message or ""
    )


def test_end_before_finish_reason_is_an_error_keeping_tool_calls() -> None:
    _, p = run(
        [
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "c", "function": {"name": "f", "arguments": '{"x": 1}'}}
                    ]
                }
            )
        ],
        done=False,
    )
    assert p.message is not None and p.message.stop_reason is StopReason.ERROR
    assert "before a finish reason" in (p.message.error_message or "")
    assert p.message.tool_calls[0].arguments == {"x": 1}


def test_done_without_finish_reason_is_an_error() -> None:
    _, p = run([chunk({"content": "x"})])
    assert p.message is not None and p.message.stop_reason is StopReason.ERROR


def test_mistral_content_parts() -> None:
    _, p = run(
        [
            chunk(
                {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]}]}
            ),
            chunk({"content": [{"type": "text", "text": "4"}]}),
            chunk({}, finish_reason="stop"),
        ]
    )
    assert p.message is not None and (p.message.thinking, p.message.text) == ("hmm", "4")


def test_input_after_the_end_is_ignored() -> None:
    _events, p = run([chunk({"content": "a"}), chunk({}, finish_reason="stop")])
    assert p.feed_chunk(chunk({"content": "late"})) == []
    assert p.message is not None and p.message.text == "a"


# --- property: the assembler rebuilds exactly what the chunks carried --------------

_frag = st.text(max_size=6)


@st.composite
def scripts(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str, str, list[tuple[str, str, str]]]:
    n_calls = draw(st.integers(0, 3))
    calls = [
        (
            f"id{i}",
            draw(st.sampled_from(["f", "g", "calc"])),
            json.dumps(
                draw(
                    st.dictionaries(
                        st.text(max_size=3), st.integers() | st.text(max_size=5), max_size=3
                    )
                )
            ),
        )
        for i in range(n_calls)
    ]
    text_parts = draw(st.lists(_frag, max_size=10))
    think_parts = draw(st.lists(_frag, max_size=6))
    chunks = [chunk({"reasoning_content": t}) for t in think_parts]
    chunks += [chunk({"content": t}) for t in text_parts]
    # Split each call's argument text at random points, then interleave the calls.
    pending = []
    for i, (cid, name, args) in enumerate(calls):
        cuts = sorted(draw(st.lists(st.integers(0, len(args)), max_size=4)))
        frags = [args[a:b] for a, b in zip([0, *cuts], [*cuts, len(args)], strict=True)]
        ds = [
            {
                "index": i,
                "id": cid,
                "type": "function",
                "function": {"name": name, "arguments": frags[0]},
            }
        ]
        ds += [{"index": i, "function": {"arguments": f}} for f in frags[1:]]
        pending.append(ds)
    # Calls start in index order (as servers do); later fragments interleave freely.
    started = 0
    while any(pending):
        k = draw(st.integers(0, min(started, len(pending) - 1)))
        if pending[k]:
            chunks.append(chunk({"tool_calls": [pending[k].pop(0)]}))
            started = max(started, k + 1)
    chunks.append(chunk({}, finish_reason="tool_calls" if calls else "stop"))
    return chunks, "".join(think_parts), "".join(text_parts), calls


@given(scripts())
def test_assembler_rebuilds_text_reasoning_and_arguments(script: Any) -> None:
    chunks, thinking, text, calls = script
    events, p = run(chunks)
    m = p.message
    assert m is not None
    assert m.text == text and m.thinking == thinking
    assert [(c.id, c.name, c.arguments) for c in m.tool_calls] == [
        (i, n, json.loads(a)) for i, n, a in calls
    ]
    # Deltas concatenated per index are exactly the argument texts.
    by_index: dict[int, str] = {}
    for e in events:
        if isinstance(e, ToolCallDeltaEvent):
            by_index[e.index] = by_index.get(e.index, "") + e.delta
    assert sorted(by_index.values()) == sorted(a for _, _, a in calls if a)
    assert isinstance(events[-1], DoneEvent) and events[-1].message is m


def test_tool_arguments_keep_big_integers_exactly() -> None:
    # orjson would read these as floats; arguments are parsed exactly.
    big = '{"id": 18446744073709551617, "neg": -9223372036854775809}'
    _, p = run(
        [
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "c", "function": {"name": "f", "arguments": big}}
                    ]
                }
            ),
            chunk({}, finish_reason="tool_calls"),
        ]
    )
    assert p.message is not None
    assert p.message.tool_calls[0].arguments == {
        "id": 18446744073709551617,
        "neg": -9223372036854775809,
    }


# --- cases the mutation run of 2026-11-26 (benches/mutation.py) showed untested ---

from tinyagent import FailureKind, ProviderError, StreamFormatError, ToolCall  # noqa: E402
from tinyagent.transports import make_byte_parser  # noqa: E402


def sse(*objs: Any) -> bytes:
    return b"".join(
        b"data: " + (o if isinstance(o, bytes) else json.dumps(o).encode()) + b"\n\n" for o in objs
    )


def test_an_sse_bound_broken_mid_read_keeps_the_events_before_it() -> None:
    for native in (False, True):
        p = make_byte_parser(MODEL, native=native, max_line_bytes=300)
        events = p.feed(sse(chunk({"content": "kept"})) + b"data: " + b"x" * 400)
        assert [type(e) for e in events] == [
            TextStartEvent,
            TextDeltaEvent,
            TextEndEvent,
            ErrorEvent,
        ]
        assert events[-1].message.text == "kept"
        assert isinstance(events[-1].error, StreamFormatError)
        assert events[-1].message.failure.kind is FailureKind.MALFORMED_STREAM


def test_error_events_carry_the_exception() -> None:
    bad, _ = run([chunk({"content": "a"})], done=False)
    p = OpenAIChatParser(MODEL)
    events = p.feed_data([json.dumps(chunk({"content": "a"})).encode(), b"{oops"])
    assert isinstance(events[-1], ErrorEvent) and isinstance(events[-1].error, StreamFormatError)
    assert events[-1].message.text == "a" and bad[-1].message.error_message is not None
    shape = OpenAIChatParser(MODEL).feed_data([b'{"choices": [1]}'])
    assert isinstance(shape[-1].error, StreamFormatError)
    assert "unexpected structure" in (shape[-1].message.error_message or "")


def test_the_argument_bound_is_exact_and_names_the_tool() -> None:
    def args(parts: list[str]) -> list[Any]:
        p = OpenAIChatParser(MODEL, max_argument_bytes=10)
        first = {"index": 0, "id": "c", "function": {"name": "f", "arguments": parts[0]}}
        out = p.feed_chunk(chunk({"tool_calls": [first]}))
        for a in parts[1:]:
            out += p.feed_chunk(chunk({"tool_calls": [{"index": 0, "function": {"arguments": a}}]}))
        return out

    ok = args(['{"a":', '"12"}'])  # 10 characters
    assert not any(isinstance(e, ErrorEvent) for e in ok)
    too_long = args(['{"a":', '"123"}'])  # 11
    assert isinstance(too_long[-1], ErrorEvent)
    assert too_long[-1].message.error_message == "arguments of tool call 'f' exceed 10 bytes"


def test_the_response_id_is_the_first_one() -> None:
    _, p = run(
        [chunk({"content": "a"}, id="chatcmpl-1"), chunk({}, id="chatcmpl-2", finish_reason="stop")]
    )
    assert p.message is not None and p.message.response_id == "chatcmpl-1"


def test_usage_fields_deepseek_cache_write_and_clamp() -> None:
    def usage(u: dict[str, Any]) -> Any:
        _, p = run([chunk({}, finish_reason="stop"), chunk(usage=u, choices=False)])
        assert p.message is not None
        m = p.message.usage
        return (m.input, m.output, m.cache_read, m.cache_write)

    assert usage({"prompt_tokens": 100, "completion_tokens": 5, "prompt_cache_hit_tokens": 30}) == (
        70,
        5,
        30,
        0,
    )
    written = {
        "prompt_tokens": 100,
        "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 20, "cache_write_tokens": 50},
    }
    assert usage(written) == (30, 5, 20, 50)
    assert usage(
        {
            "prompt_tokens": 10,
            "completion_tokens": 1,
            "prompt_tokens_details": {"cached_tokens": 40},
        }
    ) == (0, 1, 40, 0)


def test_index_less_tool_calls_split_on_a_new_id() -> None:
    _, p = run(
        [
            chunk({"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": '{"x"'}}]}),
            chunk({"tool_calls": [{"function": {"arguments": ": 1}"}}]}),
            chunk({"tool_calls": [{"id": "b", "function": {"name": "g", "arguments": "{}"}}]}),
            chunk({}, finish_reason="tool_calls"),
        ]
    )
    assert p.message is not None
    assert p.message.tool_calls == (ToolCall("a", "f", {"x": 1}), ToolCall("b", "g", {}))


def test_object_valued_arguments_are_kept_as_compact_json() -> None:
    call = {"index": 0, "id": "c", "function": {"name": "f", "arguments": {"q": "é"}}}
    events, p = run([chunk({"tool_calls": [call]}), chunk({}, finish_reason="tool_calls")])
    assert [e.delta for e in events if isinstance(e, ToolCallDeltaEvent)] == ['{"q":"é"}']
    assert p.message is not None and p.message.tool_calls[0].arguments == {"q": "é"}


def test_an_unknown_finish_reason_is_a_stop_and_is_kept() -> None:
    _, p = run([chunk({"content": "x"}), chunk({}, finish_reason="weird")])
    assert p.message is not None
    assert p.message.stop_reason is StopReason.STOP and p.message.provider_stop_reason == "weird"
    assert p.message.error_message is None and p.message.failure is None


def test_content_filter_is_a_typed_failure() -> None:
    _, p = run([chunk({"content": "x"}), chunk({}, finish_reason="content_filter")])
    assert p.message is not None and p.message.stop_reason is StopReason.ERROR
    assert p.message.failure is not None and p.message.failure.kind is FailureKind.CONTENT_FILTER


def test_one_delta_with_content_and_tool_calls_and_reasoning_gives_all() -> None:
    call = {"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}
    _, p = run(
        [
            chunk({"reasoning_content": "r", "content": "t", "tool_calls": [call]}),
            chunk({}, finish_reason="tool_calls"),
        ]
    )
    assert p.message is not None
    assert (p.message.thinking, p.message.text, len(p.message.tool_calls)) == ("r", "t", 1)


def test_an_empty_finish_reason_then_eof_is_truncated() -> None:
    _, p = run([chunk({"content": "x"}, finish_reason="")], done=False)
    assert p.message is not None and p.message.stop_reason is StopReason.ERROR
    assert "ended before a finish reason" in (p.message.error_message or "")


def test_an_in_stream_error_object_is_a_provider_error() -> None:
    p = OpenAIChatParser(Model("m", "http://x/v1", provider="openrouter"))
    events = p.feed_chunk({"error": {"message": "x", "code": 429}})
    err = events[-1].error
    assert isinstance(err, ProviderError)
    assert (err.status, err.provider, err.model) == (429, "openrouter", "m")
    assert json.loads(err.body) == {"message": "x", "code": 429}
    assert err.failure is not None and err.failure.kind is FailureKind.RATE_LIMIT
    bool_code = OpenAIChatParser(MODEL).feed_chunk({"error": {"message": "y", "code": True}})
    assert bool_code[-1].error.status is None


def test_shape_errors_and_bounds_on_both_entry_points() -> None:
    shape = OpenAIChatParser(MODEL).feed_chunk({"choices": [1]})
    assert isinstance(shape[-1], ErrorEvent) and isinstance(shape[-1].error, StreamFormatError)
    assert "unexpected structure in stream chunk" in (shape[-1].message.error_message or "")
    p = OpenAIChatParser(MODEL, max_argument_bytes=4)
    first = {"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}
    more = {"index": 0, "function": {"arguments": '"abc"'}}
    events = p.feed_data(
        [
            json.dumps(chunk({"tool_calls": [first]})).encode(),
            json.dumps(chunk({"tool_calls": [more]})).encode(),
            json.dumps(chunk({"content": "never"})).encode(),
        ]
    )
    assert isinstance(events[-1], ErrorEvent) and isinstance(events[-1].error, StreamFormatError)
    assert events[-1].message.error_message == "arguments of tool call 'f' exceed 4 bytes"
    assert events[-1].message.text == ""


def test_mistral_content_parts_and_reasoning_details() -> None:
    parts = [
        {"type": "text", "text": "a"},
        "junk",
        {"type": "other", "text": "x"},
        {"type": "thinking", "thinking": [{"type": "text", "text": "r"}, "junk", {"text": ""}]},
        {"type": "thinking", "thinking": "s"},
        {"type": "thinking", "thinking": ""},
        {"type": "text", "text": ""},
    ]
    details = [
        {"type": "reasoning.encrypted", "data": "x"},
        "junk",
        {"type": "reasoning.summary", "summary": "u"},
        {"type": "reasoning.text", "text": ""},
    ]
    _, p = run(
        [
            chunk({"content": parts}),
            chunk({"reasoning_details": details}),
            chunk({}, finish_reason="stop"),
        ]
    )
    assert p.message is not None
    assert (p.message.text, p.message.thinking) == ("a", "rsu")


def test_stop_verdicts() -> None:
    from tinyagent.providers.openai_chat._parser import chat_stop_verdict

    assert chat_stop_verdict("stop", True)[0] is StopReason.TOOL_USE
    assert chat_stop_verdict(None, False) == (StopReason.STOP, None, None)
    assert chat_stop_verdict("length", True) == (StopReason.LENGTH, None, None)
    stop, words, failure = chat_stop_verdict("content_filter", False)
    assert stop is StopReason.ERROR and words == "the provider stopped the reply: content_filter"
    assert failure is not None and failure.code == "content_filter"
