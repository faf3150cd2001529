"""Records and the one cattrs converter: exact round trips, no secrets leaking."""

from __future__ import annotations

import base64
import json
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyagent import (
    AssistantMessage,
    Context,
    Cost,
    ImageContent,
    Message,
    Model,
    ModelCost,
    StopReason,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolDefinition,
    ToolResultMessage,
    Usage,
    UserMessage,
    serde,
)

_text = st.text(max_size=30)
_json_scalar = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10)
_json = st.recursive(
    _json_scalar,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_ts = st.floats(min_value=0, max_value=4e9, allow_nan=False)
_image = st.one_of(
    st.builds(
        lambda d, m: ImageContent(data=base64.b64encode(d).decode(), mime_type=m),
        st.binary(max_size=30),
        st.sampled_from(["image/png", "image/jpeg"]),
    ),
    st.builds(lambda u: ImageContent(url=u), _text),
)
_user_content = st.one_of(
    _text, st.lists(st.one_of(st.builds(TextContent, _text), _image), max_size=3)
)
_tool_call = st.one_of(
    st.builds(ToolCall, _text, _text, st.dictionaries(st.text(max_size=5), _json, max_size=3)),
    st.builds(
        lambda i, n, raw: ToolCall(i, n, {}, raw_arguments=raw, arguments_error="not JSON"),
        _text,
        _text,
        _text,
    ),
)
_cost = st.builds(Cost, *[st.floats(0, 10, allow_nan=False)] * 5)
_usage = st.builds(Usage, *[st.integers(0, 10**7)] * 6, st.none() | _cost)
_assistant = st.builds(
    lambda content, stop, usage, model, provider, err, ts, psr, rid: AssistantMessage(
        content,
        stop,
        usage,
        model,
        provider,
        err,
        timestamp=ts,
        provider_stop_reason=psr,
        response_id=rid,
    ),
    st.lists(
        st.one_of(
            st.builds(TextContent, _text),
            st.builds(ThinkingContent, _text, st.none() | _text, st.booleans()),
            _tool_call,
        ),
        max_size=4,
    ),
    st.sampled_from(list(StopReason)),
    _usage,
    _text,
    _text,
    st.none() | _text,
    _ts,
    st.none() | _text,
    st.none() | _text,
)
_user = st.builds(lambda c, ts: UserMessage(c, timestamp=ts), _user_content, _ts)
_result = st.builds(
    lambda i, n, c, e, d, ts: ToolResultMessage(i, n, c, e, d, timestamp=ts),
    _text, _text, st.lists(st.one_of(st.builds(TextContent, _text), _image), max_size=3), st.booleans(), _json, _ts,
)  # fmt: skip
messages = st.one_of(_user, _assistant, _result)


@given(messages)
def test_every_message_round_trips_exactly_through_json(message: Any) -> None:
    data = serde.unstructure(message)
    text = json.dumps(data)  # plain JSON data, nothing exotic
    back = serde.structure(json.loads(text), Message)
    assert back == message
    assert type(back) is type(message)
    assert serde.loads(serde.dumps(message), type(message)) == message


@given(st.lists(messages, max_size=5), _text)
def test_context_round_trips(msgs: list[Any], system: str) -> None:
    ctx = Context(system, msgs, [ToolDefinition("t", "d", {"type": "object"})])
    assert serde.structure(json.loads(json.dumps(serde.unstructure(ctx))), Context) == ctx


def test_records_are_frozen_and_slotted() -> None:
    m = UserMessage("hi")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        m.content = "x"  # type: ignore[misc]
    assert not hasattr(m, "__dict__")


def test_lists_become_tuples() -> None:
    m = AssistantMessage([TextContent("a")], "stop")
    assert isinstance(m.content, tuple) and m.stop_reason is StopReason.STOP
    assert ToolResultMessage("c", "t", "out").content == (TextContent("out"),)


def test_unknown_tags_give_clear_errors() -> None:
    with pytest.raises(Exception, match="unknown role 'robot'"):
        serde.structure({"role": "robot", "content": "x"}, Message)
    with pytest.raises(Exception, match="unknown type 'video'"):
        serde.structure({"role": "user", "content": [{"type": "video"}], "timestamp": 1.0}, Message)


def test_image_needs_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ImageContent()
    with pytest.raises(ValueError, match="exactly one"):
        ImageContent(data="x", url="y")


def test_model_repr_and_json_never_show_the_key() -> None:
    m = Model(
        "gpt",
        "https://api.example/v1",
        api_key="sk-abc",
        headers={"Authorization": "Bearer sk-abc", "X-Trace": "1"},
    )
    assert "sk-abc" not in repr(m)
    assert "sk-abc" not in json.dumps(serde.unstructure(m))
    assert serde.unstructure(m)["headers"] == {"X-Trace": "1"}


def test_usage_adds_up_with_cost() -> None:
    a = Usage(1, 2, 3, 4, 1, 10, Cost(0.1, 0.2, 0.0, 0.0, 0.3))
    b = Usage(10, 20, 0, 0, 0, 30)
    s = a + b
    assert (s.input, s.output, s.cache_read, s.cache_write, s.total) == (11, 22, 3, 4, 40)
    assert s.cost is not None and s.cost.total == pytest.approx(0.3)
    assert (Usage() + Usage()).cost is None


def test_model_cost_prices_each_field_on_its_own() -> None:
    c = ModelCost(input=3, output=15, cache_read=0.3, cache_write=3.75).price(
        Usage(1_000_000, 1_000_000, 1_000_000, 1_000_000)
    )
    assert (c.input, c.output, c.cache_read, c.cache_write) == (3, 15, 0.3, 3.75)
    assert c.total == pytest.approx(22.05)


def test_provider_name_defaults_to_host() -> None:
    assert Model("m", "https://openrouter.ai/api/v1").provider_name == "openrouter.ai"
    assert Model("m", "http://x/v1", provider="vllm").provider_name == "vllm"


def test_constructor_signatures_are_the_documented_contract() -> None:
    # The issue spells these signatures out; user code calls them positionally.
    assert UserMessage("hi", 1.0).timestamp == 1.0
    a = AssistantMessage([TextContent("x")], "stop", Usage(1, 2), "m", "p", None, 2.0)
    assert (a.model, a.provider, a.error_message, a.timestamp) == ("m", "p", None, 2.0)
    r = ToolResultMessage("c1", "calc", "42", True, {"k": 1}, 3.0)
    assert (r.is_error, r.details, r.timestamp) == (True, {"k": 1}, 3.0)
    img = ImageContent("QUJD", "image/jpeg")
    assert (img.data, img.mime_type, img.url) == ("QUJD", "image/jpeg", None)
    assert ThinkingContent("t", "sig").signature == "sig"
    assert ToolCall("id", "name", {"a": 1}).arguments == {"a": 1}
    m = Model(
        "id",
        "http://x/v1",
        "openai-chat",
        "key",
        "ENV",
        "prov",
        {"h": "v"},
        1000,
        100,
        True,
        ModelCost(1, 2),
    )
    assert (m.api_key_env, m.provider, m.context_window, m.max_tokens, m.reasoning) == (
        "ENV",
        "prov",
        1000,
        100,
        True,
    )
    assert Context("sys", [UserMessage("u")], []).system_prompt == "sys"
    u = Usage(1, 2, 3, 4, 5, 15)
    assert (u.input, u.output, u.cache_read, u.cache_write, u.reasoning, u.total, u.cost) == (
        1,
        2,
        3,
        4,
        5,
        15,
        None,
    )


def test_loop_options_never_show_a_key() -> None:
    from tinyagent import LoopConfig

    config = LoopConfig(
        stream_options={
            "api_key": "sk-hidden",
            "headers": {"authorization": "Bearer sk-hidden"},
            "temperature": 0,
        }
    )
    assert "sk-hidden" not in repr(config) and "temperature" in repr(config)
    from tinyagent import StreamOptions

    assert "sk-hidden" not in repr(
        StreamOptions(api_key="sk-hidden", headers={"x-api-key": "sk-hidden"})
    )
