"""The incremental JSON parser: every split of a document gives the document; the value
only ever grows; broken JSON is refused with where it broke."""

from __future__ import annotations

import copy
import itertools
import json
import re
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"\\ud83d\\ude00"', "😀"),  # a pair
        ('"a\\ud83d\\ude00b"', "a😀b"),
        ('"\\ude00"', "\ufffd"),  # a lone low half
        ('"\\ud83d\\ud83d\\ude00"', "\ufffd😀"),  # a high half, then a pair
        ('"\\ud83dx"', "\ufffdx"),  # a high half, then text
        ('"\\ud83d\\n"', "\ufffd\n"),  # a high half, then a simple escape
        ('"\\ud83d\\u0041"', "\ufffdA"),  # a high half, then a BMP escape
        ('"\\ud83d"', "\ufffd"),  # a high half at the end
        ('"\\u00e9\\/\\b\\f\\r\\t"', "é/\b\f\r\t"),
    ],
)
def test_escapes_and_surrogates_split_at_every_point(text: str, expected: str) -> None:
    for cut in range(len(text) + 1):
        p = PartialJSON()
        p.feed(text[:cut])
        p.feed(text[cut:])
        assert p.done and p.value() == expected, (cut, p.value())


def test_a_root_string_shows_as_it_streams() -> None:
    p = PartialJSON()
    p.feed('"hel')
    assert p.value() == "hel" and not p.done
    p.feed('lo"')
    assert p.value() == "hello" and p.done


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[-0]", [0]),
        ("[1.5e3]", [1500.0]),
        ("[-12.25]", [-12.25]),
        ("[2E-2]", [0.02]),
        ("[10]", [10]),
        ("[true, false, null]", [True, False, None]),
        ('{"a": {}, "b": []}', {"a": {}, "b": []}),
        ("[[], [[]]]", [[], [[]]]),
    ],
)
def test_numbers_literals_and_empty_containers(text: str, expected: object) -> None:
    p = PartialJSON()
    for ch in text:  # one character at a time
        p.feed(ch)
    assert p.done and p.value() == expected
    assert type(p.value()[0] if isinstance(expected, list) and expected else p.value()) is type(
        expected[0] if isinstance(expected, list) and expected else expected
    )


@pytest.mark.parametrize("text", ["[-]", "[1.]", "[1e]", "[--1]", "[1.2.3]", "[+1]", "[.5]"])
def test_broken_numbers_are_refused(text: str) -> None:
    with pytest.raises(PartialJSONError):
        PartialJSON().feed(text)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"a": 1 "b": 2}', "character 9"),  # 1-based
        ("[1, 2]x", "character 7"),
        ('"\\u12G4"', "invalid escape"),
        ("[1}", "expected ',' or the container's end"),
        ('{"a": 1]', "expected ',' or the container's end"),
        ("}", "expected a value"),
    ],
)
def test_the_error_says_where(text: str, where: str) -> None:
    with pytest.raises(PartialJSONError, match=re.escape(where)):
        PartialJSON().feed(text)


def test_an_error_position_counts_earlier_fragments() -> None:
    p = PartialJSON()
    p.feed("[1, ")
    with pytest.raises(PartialJSONError, match="at character 7"):
        p.feed("2 3]")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"\\ud800\\udc00"', "\U00010000"),  # the lowest pair
        ('"\\udbff\\udfff"', "\U0010ffff"),  # the highest pair
        ('"\\ud7ff"', "\ud7ff"),  # just below the surrogates: a character
        ('"\\ue000"', "\ue000"),  # just above them
        ('"\\udbff"', "\ufffd"),  # the last high half, alone
        ('"\\udc00x"', "\ufffdx"),  # the first low half, alone
        ('"\\udfff"', "\ufffd"),  # the last low half, alone
    ],
)
def test_surrogate_boundaries(text: str, expected: str) -> None:
    p = PartialJSON()
    p.feed(text)
    assert p.value() == expected
