"""``stream_options``: one validated record per distinct set of options, reused."""

from __future__ import annotations

import pytest

from tinyagent.wire import StreamOptions, stream_options


def test_the_same_options_give_the_same_record() -> None:
    assert stream_options({}) is stream_options({}) == StreamOptions()
    a = stream_options({"temperature": 0.5, "max_retries": 2})
    assert a is stream_options({"temperature": 0.5, "max_retries": 2})
    assert (a.temperature, a.max_retries) == (0.5, 2)


def test_equal_values_of_another_type_are_validated_afresh() -> None:
    assert stream_options({"max_retries": 1}).max_retries == 1
    with pytest.raises(ValueError, match="max_retries must be a whole number"):
        stream_options({"max_retries": True})  # True == 1, but no count
    assert type(stream_options({"temperature": 1.0}).temperature) is float
    assert type(stream_options({"temperature": 1}).temperature) is int


def test_unhashable_values_and_unknown_names() -> None:
    body = {"seed": 1}
    assert stream_options({"extra_body": body}).extra_body == body
    with pytest.raises(TypeError, match="unknown stream option"):
        stream_options({"temprature": 1})
    for _ in range(2):  # not remembered as valid
        with pytest.raises(ValueError, match="temperature must be a finite number"):
            stream_options({"temperature": "hot"})


def test_the_cache_stays_small() -> None:
    from tinyagent.wire import _request

    for i in range(500):
        stream_options({"max_tokens": i + 1})
    assert len(_request._recent) <= 64


def test_objects_are_told_apart_by_identity_not_equality() -> None:
    """Two clients (or gates) that compare equal are still two objects: each call's
    record holds the one it was given."""

    class Same:
        def __eq__(self, other: object) -> bool:
            return isinstance(other, Same)

        def __hash__(self) -> int:
            return 1

    a, b = Same(), Same()
    assert stream_options({"rate_gate": a}).rate_gate is a
    assert stream_options({"rate_gate": b}).rate_gate is b
    assert stream_options({"rate_gate": a}) is stream_options({"rate_gate": a})
