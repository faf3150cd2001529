"""The incremental JSON parser: every split of a document gives the document; the value
only ever grows; broken JSON is refused with where it broke."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyagent.output import PartialJSON, PartialJSONError

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


def grows_into(before: Any, after: Any) -> bool:
    """``after`` extends ``before``: same keys and items (the last may have grown)."""
    if isinstance(before, dict):
        return isinstance(after, dict) and all(
            k in after and grows_into(v, after[k]) for k, v in before.items()
        )
    if isinstance(before, list):
        return (
            isinstance(after, list)
            and len(after) >= len(before)
            and all(grows_into(a, b) for a, b in zip(before, after, strict=False))
        )
    if isinstance(before, str):
        return isinstance(after, str) and after.startswith(before)
    return before == after


@given(json_values, st.booleans(), st.lists(st.integers(1, 7), min_size=1), st.data())
def test_any_split_gives_the_document(
    value: Any, ascii_only: bool, sizes: list[int], data: st.DataObject
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only) + " "
    parser = PartialJSON()
    i, k, seen = 0, 0, []
    while i < len(text):
        size = sizes[k % len(sizes)]
        parser.feed(text[i : i + size])
        if data.draw(st.booleans()):
            seen.append(copy.deepcopy(parser.value()))
        i, k = i + size, k + 1
    assert parser.done
    assert parser.value() == json.loads(text)
    snapshots = [s for s in seen if s is not None] + [parser.value()]
    assert all(grows_into(a, b) for a, b in itertools.pairwise(snapshots))


def test_strings_show_as_they_stream_and_numbers_once_complete() -> None:
    p = PartialJSON()
    p.feed('{"name": "Ad')
    assert p.value() == {"name": "Ad"}
    p.feed('a", "age": 3')
    assert p.value() == {"name": "Ada"}  # 3 may be the start of 36
    p.feed('6, "tags": ["x", "y')
    assert p.value() == {"name": "Ada", "age": 36, "tags": ["x", "y"]}
    p.feed('"], "ok": tr')
    assert "ok" not in p.value()
    p.feed("ue}")
    assert p.done and p.value()["ok"] is True


def test_escapes_split_anywhere() -> None:
    text = json.dumps({"k": 'a"\\\n\u00e9😀b'}, ensure_ascii=True)
    for cut in range(1, len(text)):
        p = PartialJSON()
        p.feed(text[:cut])
        p.value()
        p.feed(text[cut:])
        assert p.value() == json.loads(text)


def test_a_lone_surrogate_becomes_the_replacement_character() -> None:
    p = PartialJSON()
    p.feed('["\\ud83d", "\\ude00x"]')
    assert p.value() == ["\ufffd", "\ufffdx"]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"a" 1}', "expected ':'"),
        ("[1,,2]", "expected a value"),
        ('{"a":tru e}', "unexpected 'tru '"),
        ('{"a":1}}', "after the end"),
        ('"\\x"', "invalid escape"),
        ("[01]", "not a number"),
        ("{1: 2}", "expected a key"),
    ],
)
def test_broken_json_is_refused_saying_where(text: str, where: str) -> None:
    with pytest.raises(PartialJSONError, match=where):
        PartialJSON().feed(text)
