"""Failure classification: the same kinds from every provider's statuses, codes and
words; context overflow recognised; Retry-After read in both of its forms."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import pytest

from tinyagent import Failure, FailureKind, Model
from tinyagent.providers import http_failure, is_context_overflow
from tinyagent.providers._failures import (
    error_excerpt,
    failure_from_error_object,
    parse_retry_after,
)
from tinyagent.transports import retry_delay

M = Model("m-1", "https://api.example.com/v1", provider="example")


@pytest.mark.parametrize(
    "text",
    [
        "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
        "prompt is too long: 210000 tokens > 200000 maximum",
        "Input is too long for requested model.",
        "Please reduce the length of the messages or completion.",
        "the request exceeds the available context size, try increasing it",
        "context_length_exceeded",
    ],
)
def test_context_overflow_in_each_providers_words(text: str) -> None:
    assert is_context_overflow(text)
    body = json.dumps({"error": {"message": text, "type": "invalid_request_error"}}).encode()
    assert http_failure(M, 400, body).failure == Failure(
        FailureKind.CONTEXT_OVERFLOW, 400, "invalid_request_error"
    )


def test_not_every_bad_request_is_an_overflow() -> None:
    assert not is_context_overflow("messages: text content blocks must be non-empty")
    body = b'{"error": {"message": "bad field", "type": "invalid_request_error"}}'
    assert http_failure(M, 400, body).failure.kind is FailureKind.INVALID_REQUEST


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (
            401,
            {"type": "error", "error": {"type": "authentication_error", "message": "x"}},
            FailureKind.AUTHENTICATION,
            "authentication_error",
        ),
        (
            403,
            {"error": {"message": "no", "code": "permission_error"}},
            FailureKind.PERMISSION,
            "permission_error",
        ),
        (402, {"error": {"message": "pay"}}, FailureKind.PERMISSION, None),
        (
            404,
            {"error": {"message": "no model", "code": "model_not_found"}},
            FailureKind.NOT_FOUND,
            "model_not_found",
        ),
        (
            429,
            {"error": {"message": "quota", "code": "insufficient_quota"}},
            FailureKind.RATE_LIMIT,
            "insufficient_quota",
        ),
        (
            529,
            {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
            FailureKind.OVERLOADED,
            "overloaded_error",
        ),
        (503, {"detail": "down"}, FailureKind.OVERLOADED, None),
        (500, {"error": {"message": "boom", "type": "api_error"}}, FailureKind.SERVER, "api_error"),
        (502, {"error": "bad gateway"}, FailureKind.SERVER, None),
        (418, {"error": {"message": "teapot"}}, FailureKind.UNKNOWN, None),
        (413, {"error": {"message": "too big"}}, FailureKind.CONTEXT_OVERFLOW, None),
    ],
)
def test_http_statuses_and_codes(
    status: int, body: object, kind: FailureKind, code: str | None
) -> None:
    err = http_failure(M, status, json.dumps(body).encode(), "3")
    assert err.failure == Failure(kind, status, code, 3.0)
    assert (err.status, err.provider, err.model) == (status, "example", "m-1")
    assert err.message.startswith(f"HTTP {status} from example (m-1): ")


def test_in_stream_error_objects() -> None:
    err = failure_from_error_object({"message": "slow down", "code": 429}, "or", "m")
    assert err.failure == Failure(FailureKind.RATE_LIMIT, 429, None)
    err = failure_from_error_object({"type": "overloaded_error", "message": "Overloaded"}, "a", "m")
    assert err.failure == Failure(FailureKind.OVERLOADED, None, "overloaded_error")
    err = failure_from_error_object("plain words", "p", "m")
    assert err.message == "plain words" and err.failure.kind is FailureKind.UNKNOWN
    err = failure_from_error_object({"code": "502"}, "p", "m")
    assert err.failure.code is None and err.message == '{"code": "502"}'


@pytest.mark.parametrize(
    "err",
    [
        {"type": "internal_server_error", "code": "500", "message": "boom"},  # chat, mid-stream
        {"type": "error", "code": "server_error", "message": "boom"},  # a bare Responses event
        {"code": "500", "message": "a status written as text"},
    ],
)
def test_in_stream_server_errors_are_server_failures(err: dict[str, Any]) -> None:
    failure = failure_from_error_object(err, "p", "m").failure
    assert failure.kind is FailureKind.SERVER
    assert retry_delay(failure, 0, 2) is not None  # retried where nothing was delivered


def test_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("7") == 7.0 and parse_retry_after("0") == 0.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (parse_retry_after(later) or 0) <= 31


@pytest.mark.parametrize(
    "value",
    ["nan", "NaN", "inf", "-inf", "-3", "1e9", "86401", "Thu, 01 Jan 1970 00:00:00 GMT"],
)
def test_an_absurd_retry_after_is_read_as_absent(value: str) -> None:
    """Not finite, negative, a date already past, or more than a day: the caller falls
    back to its own backoff (capped) instead of failing or waiting for ever."""
    assert parse_retry_after(value) is None


def test_which_failures_are_retried() -> None:
    rate = Failure(FailureKind.RATE_LIMIT, 429, None, 2.0)
    assert retry_delay(rate, 0, 2) == 2.0 and retry_delay(rate, 2, 2) is None
    assert retry_delay(Failure(FailureKind.RATE_LIMIT, 429, None, 600.0), 0, 2) == 60.0
    assert retry_delay(Failure(FailureKind.INVALID_REQUEST, 400), 0, 2) is None
    assert retry_delay(Failure(FailureKind.OVERLOADED, None, "overloaded_error"), 0, 2) is not None
    assert retry_delay(Failure(FailureKind.CONNECTION, None, "connect"), 0, 2) is not None
    assert retry_delay(Failure(FailureKind.CONNECTION, None, "closed"), 0, 2) is None
    assert retry_delay(Failure(FailureKind.TIMEOUT, None, "read_timeout"), 0, 2) is None
    assert retry_delay(Failure(FailureKind.MALFORMED_STREAM, None, "format"), 0, 2) is None
    assert retry_delay(None, 0, 2) is None


def test_error_excerpts() -> None:
    assert error_excerpt(b'{"error": {"message": "nope"}}') == "nope"
    assert error_excerpt(b'{"detail": "gone"}') == "gone"
    assert error_excerpt(b'{"error": "flat"}') == "flat"
    assert (
        error_excerpt(b"<html>\n  <b>Bad   Gateway</b>\n</html>")
        == "<html> <b>Bad Gateway</b> </html>"
    )
    assert error_excerpt(b"") == "(empty body)"
    assert error_excerpt(b"x" * 600).endswith("…") and len(error_excerpt(b"x" * 600)) == 501
