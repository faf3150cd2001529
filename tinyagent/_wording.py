"""The words of every stream failure, in one place.

Both the pure-Python path and the native core report failures through these functions,
so the same bytes give the same ``error_message`` on every transport.
"""

from __future__ import annotations

__all__ = [
    "CONTEXT_WINDOW_EXCEEDED",
    "DONE_WITHOUT_FINISH",
    "ENDED_BEFORE_FINISH",
    "ENDED_BEFORE_MESSAGE_STOP",
    "ENDED_MID_EVENT",
    "arguments_too_large",
    "chunk_not_object",
    "data_too_long",
    "excerpt",
    "line_too_long",
    "malformed_chunk",
    "pending_line_too_long",
    "protocol_violation",
    "provider_stopped",
    "transport_failure",
    "unexpected_structure",
]

ENDED_BEFORE_FINISH = "the stream ended before a finish reason (truncated reply)"
ENDED_MID_EVENT = "the stream ended in the middle of an event (truncated reply)"
DONE_WITHOUT_FINISH = "the stream sent [DONE] without a finish reason"
CONTEXT_WINDOW_EXCEEDED = "the reply stopped: the model's context window is full"
ENDED_BEFORE_MESSAGE_STOP = "the stream ended before message_stop (truncated reply)"


def provider_stopped(reason: str) -> str:
    """The provider ended the reply with a verdict that is a failure (a content filter)."""
    return f"the provider stopped the reply: {reason}"


def transport_failure(
    kind: str, url: str, detail: str, connect_timeout: float, read_timeout: float
) -> str:
    """A transport failure in words; ``kind`` is what went wrong, the same on every path:
    ``connect_timeout``, ``read_timeout``, ``connect``, ``closed`` (mid-stream) or
    ``other``. The transport library's own detail is not part of the words (it differs
    between httpx and the native core); it stays on ``TransportError.detail``."""
    if kind == "connect_timeout":
        return f"connect timeout: no connection to {url} within {connect_timeout} s"
    if kind == "read_timeout":
        return f"read timeout: the server sent nothing for {read_timeout} s"
    if kind == "connect":
        return f"could not connect to {url}"
    if kind == "closed":
        return "the connection closed mid-stream (truncated reply)"
    return f"transport error talking to {url}: {detail}"


def excerpt(data: bytes | str, limit: int = 200) -> str:
    return data[:limit] if isinstance(data, str) else data[:limit].decode("utf-8", "replace")


def pending_line_too_long(limit: int) -> str:
    return f"SSE line longer than {limit} bytes without a line end"


def data_too_long(limit: int) -> str:
    return f"SSE event data longer than {limit} bytes"


def line_too_long(limit: int) -> str:
    return f"SSE line longer than {limit} bytes"


def arguments_too_large(label: str, limit: int) -> str:
    return f"arguments of tool call {label!r} exceed {limit} bytes"


def malformed_chunk(data: bytes | str, reason: str) -> str:
    return f"malformed JSON chunk in stream ({reason}): {excerpt(data)!r}"


def chunk_not_object(data: bytes | str) -> str:
    return f"stream chunk is not a JSON object: {excerpt(data)!r}"


def unexpected_structure(data: bytes | str) -> str:
    return f"unexpected structure in stream chunk: {excerpt(data)!r}"


def protocol_violation(detail: bytes | str) -> str:
    return f"the stream broke its protocol: {excerpt(detail)}"
