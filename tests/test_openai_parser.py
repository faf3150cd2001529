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
from tinyagent.providers._openai_chat_parser import OpenAIChatParser
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
        "prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 400},
        "completion_tokens_details": {"reasoning_tokens": 100},
    }  # fmt: skip
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
