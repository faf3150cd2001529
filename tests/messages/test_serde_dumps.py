"""``serde.dumps`` writes plain data with orjson and the rest with ``json``: whichever
path a record takes, it reads back the same."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tinyagent import TextContent, ToolCall, ToolResultMessage
from tinyagent._util.json import replace_lone_surrogates
from tinyagent.serde import dumps, loads, unstructure

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # past 64 bits: orjson refuses
    | st.floats(allow_nan=True, allow_infinity=True)  # orjson would write NaN as null
    | st.text()  # lone surrogates included: orjson refuses them
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        | st.dictionaries(st.integers(0, 9), inner, min_size=1, max_size=2)
    ),  # int keys
    max_leaves=12,
)


def _by_json(obj: Any) -> str:
    """What dumps wrote before orjson: the standard library, surrogates replaced."""
    text = json.dumps(unstructure(obj), ensure_ascii=False, separators=(",", ":"))
    return replace_lone_surrogates(text)


def _same(a: str, b: str) -> bool:
    # NaN != NaN: compare as written again by one writer.
    return json.dumps(json.loads(a), sort_keys=True) == json.dumps(json.loads(b), sort_keys=True)


@given(details=_json, arguments=st.dictionaries(st.text(max_size=5), _json, max_size=3))
def test_both_paths_read_back_the_same(details: Any, arguments: dict[str, Any]) -> None:
    result = ToolResultMessage("c1", "t", [TextContent("ok")], details=details)
    assert _same(dumps(result), _by_json(result))
    call = ToolCall("c1", "t", arguments)
    assert _same(dumps(call), _by_json(call))


def test_what_orjson_would_change_goes_the_standard_way() -> None:
    nan = ToolResultMessage("c1", "t", [TextContent("ok")], details={"x": math.nan})
    assert '"x":NaN' in dumps(nan)  # not null
    assert math.isnan(loads(dumps(nan), ToolResultMessage).details["x"])
    big = ToolResultMessage("c1", "t", [TextContent("ok")], details=2**80)
    assert loads(dumps(big), ToolResultMessage).details == 2**80
    lone = ToolResultMessage("c1", "t", [TextContent("ok")], details="a\ud800b")
    assert loads(dumps(lone), ToolResultMessage).details == "a\ufffdb"
    keys = ToolResultMessage("c1", "t", [TextContent("ok")], details={1: "one"})
    assert loads(dumps(keys), ToolResultMessage).details == {"1": "one"}
