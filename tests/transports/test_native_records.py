"""The native core builds the stream's delta records without running ``__init__`` (the
``fast_record`` shortcut in ``native/src/lib.rs``). Its safety rests on what these
tests check: the classes are slotted attrs records holding only str and int fields,
and a record built that way is indistinguishable from one built by its constructor."""

from __future__ import annotations

import gc

import attrs
import pytest

from tinyagent import (
    Model,
    TextDeltaEvent,
    TextStartEvent,
    ThinkingDeltaEvent,
    ThinkingStartEvent,
    ToolCallDeltaEvent,
    ToolCallStartEvent,
)
from tinyagent.transports import make_byte_parser, native_available

pytestmark = pytest.mark.skipif(not native_available(), reason="the native core is not built")

FAST = (
    TextStartEvent,
    TextDeltaEvent,
    ThinkingStartEvent,
    ThinkingDeltaEvent,
    ToolCallStartEvent,
    ToolCallDeltaEvent,
)


@pytest.mark.parametrize("cls", FAST)
def test_the_shortcut_classes_are_slotted_records_of_str_and_int(cls: type) -> None:
    assert attrs.has(cls) and "__slots__" in cls.__dict__
    values = {}
    for field in attrs.fields(cls):
        assert field.type in ("str", "int", str, int), (cls.__name__, field.name, field.type)
        values[field.name] = 0 if field.type in ("int", int) else ""
    assert not hasattr(cls(**values), "__dict__")  # slots only


def _chunk(delta: str) -> bytes:
    return b'data: {"id":"c","choices":[{"index":0,"delta":' + delta.encode() + b"}]}\n\n"


def test_records_built_natively_equal_constructed_ones_and_stay_out_of_the_gc() -> None:
    body = (
        _chunk('{"reasoning_content":"hm"}')
        + _chunk('{"content":"Hi"}')
        + _chunk(
            '{"tool_calls":[{"index":0,"id":"call_1","type":"function",'
            '"function":{"name":"f","arguments":"{}"}}]}'
        )
    )
    parser = make_byte_parser(Model("m", "http://127.0.0.1:1/v1"), native=True)
    events = [e for e in parser.feed(body) if isinstance(e, FAST)]
    assert [type(e) for e in events] == [
        ThinkingStartEvent,
        ThinkingDeltaEvent,
        TextStartEvent,
        TextDeltaEvent,
        ToolCallStartEvent,
        ToolCallDeltaEvent,
    ]
    for e in events:
        rebuilt = type(e)(**attrs.asdict(e, recurse=False))
        assert e == rebuilt and hash(e) == hash(rebuilt) and repr(e) == repr(rebuilt)
        assert not gc.is_tracked(e)  # untracked: no cycles possible, none walked
    assert events[3].delta == "Hi" and events[4].name == "f"
