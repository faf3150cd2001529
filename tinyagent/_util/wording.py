"""The words users and models read, in one place: stream failures (both the pure path
and the native core report through these functions, so the same bytes give the same
``error_message`` on every transport) and the loop's tool results and run ends.
"""

from __future__ import annotations

__all__ = [
    "CONSUMER_LEFT",
    "CONTEXT_WINDOW_EXCEEDED",
    "DONE_WITHOUT_FINISH",
    "ENDED_BEFORE_FINISH",
    "ENDED_BEFORE_MESSAGE_STOP",
    "ENDED_BEFORE_MESSAGE_STOP_EVENT",
    "ENDED_BEFORE_RESPONSE_DONE",
    "ENDED_MID_EVENT",
    "RUN_CANCELLED",
    "arguments_too_large",
    "callback_raised",
    "chunk_not_object",
    "data_too_long",
    "excerpt",
    "line_too_long",
    "malformed_chunk",
    "pending_line_too_long",
    "protocol_violation",
    "provider_stopped",
    "reading_failed",
    "run_deadline_passed",
    "tool_aborted",
    "tool_bad_return",
    "tool_cancelled",
    "tool_cut_off",
    "tool_denied",
    "tool_failed",
    "tool_invalid_arguments",
    "tool_needs_approver",
    "tool_timed_out",
    "tool_unknown",
    "tool_unusable_arguments",
    "transport_failure",
    "unexpected_structure",
]

ENDED_BEFORE_FINISH = "the stream ended before a finish reason (truncated reply)"
ENDED_MID_EVENT = "the stream ended in the middle of an event (truncated reply)"
DONE_WITHOUT_FINISH = "the stream sent [DONE] without a finish reason"
CONTEXT_WINDOW_EXCEEDED = "the reply stopped: the model's context window is full"
ENDED_BEFORE_MESSAGE_STOP = "the stream ended before message_stop (truncated reply)"
ENDED_BEFORE_MESSAGE_STOP_EVENT = "the stream ended before messageStop (truncated reply)"
ENDED_BEFORE_DONE = "the stream ended before its done event (truncated reply)"
ENDED_BEFORE_RESPONSE_DONE = "the stream ended before the response completed (truncated reply)"


def provider_stopped(reason: str) -> str:
    """The provider ended the reply with a verdict that is a failure (a content filter)."""
    return f"the provider stopped the reply: {reason}"


def transport_failure(
    kind: str,
    url: str,
    detail: str,
    connect_timeout: float,
    read_timeout: float,
    proxy: str | None = None,
) -> str:
    """A transport failure in words; ``kind`` is what went wrong, the same on every path:
    ``connect_timeout``, ``read_timeout``, ``connect``, ``no_response`` (the connection
    closed before any answer: e.g. a server's idle keep-alive connection, closed as the
    request went out), ``tls`` (the server's certificate refused), ``proxy_auth`` and
    ``proxy_refused`` (a proxy that answered CONNECT with 407, or another status),
    ``closed`` (mid-stream), ``local`` (this machine ran out of something: descriptors,
    memory), ``decode`` (a compressed body that does not decompress), ``bad_response``
    (an answer whose head is not HTTP, or too large to read) or ``other``. Through a
    ``proxy`` (its address, shown without credentials), a connection that could not be
    made is one to the proxy, and is said so. The transport library's own detail is not
    part of the words (it differs between httpx and the native core); it stays on
    ``TransportError.detail``."""
    if proxy is not None and kind == "connect_timeout":
        return (
            f"connect timeout: no connection to the proxy {proxy} (for {url}) within "
            f"{connect_timeout} s"
        )
    if proxy is not None and kind == "connect":
        return f"could not connect to the proxy {proxy} (for {url})"
    if kind == "connect_timeout":
        return f"connect timeout: no connection to {url} within {connect_timeout} s"
    if kind == "read_timeout":
        return f"read timeout: the server sent nothing for {read_timeout} s"
    if kind == "connect":
        return f"could not connect to {url}"
    if kind == "proxy_auth":
        return (
            f"the proxy would not connect to {url} without credentials (HTTP 407): give "
            "them in the proxy's URL, http://user:password@host:port"
        )
    if kind == "proxy_refused":
        return f"the proxy refused to connect to {url} (its answer to CONNECT was no success)"
    if kind == "tls":
        return (
            f"could not connect to {url}: its TLS certificate was refused (not signed by a "
            "trusted CA, issued for another name, or expired); for a private CA or an "
            "intercepting proxy, pass ca_bundle= or set SSL_CERT_FILE"
        )
    if kind == "no_response":
        return f"the connection to {url} closed before any response"
    if kind == "closed":
        return "the connection closed mid-stream (truncated reply)"
    if kind == "local":
        return f"could not start the request to {url} on this machine: {detail}"
    if kind == "bad_response":
        return (
            f"the server at {url} answered with a response head that is not valid HTTP or "
            "too large to read"
        )
    if kind == "decode":
        return f"the body from {url} is corrupt: it does not decode by its content-encoding"
    return f"transport error talking to {url}: {detail}"


def no_events(seen: int, head: bytes) -> str:
    """A body that ended before one whole event: what came instead (a page, a message,
    a first event cut short), or that nothing did."""
    if not seen:
        return "the stream ended with no event: the body was empty"
    shown = " ".join(excerpt(head).split())  # one line, whatever the body's lines
    return f"the stream ended with no complete event ({seen} bytes): {shown}"


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


# --- the agent loop: tool results the model reads, and why a run ended ---------------

RUN_CANCELLED = "the run was cancelled"
CONSUMER_LEFT = "the consumer left the run"


def run_deadline_passed(deadline: float | None) -> str:
    return f"the run's deadline of {deadline} s passed"


def tool_aborted(why: str) -> str:
    return f"Tool call aborted: {why}."


def tool_cancelled(name: str) -> str:
    return f"Tool call aborted: {name} was cancelled by the application."


def tool_cut_off() -> str:
    return (
        "Your reply was cut off by the output token limit, so this call's arguments "
        "may be incomplete; it was not run. Issue the call again, with shorter arguments "
        "if they were long."
    )


def tool_timed_out(name: str, timeout: float) -> str:
    return (
        f"Tool {name!r} timed out after {timeout} s and was stopped. "
        "Try a smaller request, or a different approach."
    )


def tool_failed(name: str, exc: BaseException) -> str:
    return f"Tool {name!r} failed: {type(exc).__name__}: {exc}"


def tool_bad_return(name: str, value: object) -> str:
    return (
        f"Tool {name!r} returned {type(value).__name__}, not a ToolResult or str "
        "(a bug in the tool)."
    )


def tool_unknown(name: str, known: str) -> str:
    return f"Unknown tool {name!r}. Available tools: {known}."


def tool_unusable_arguments(name: str, error: str, raw: str | None) -> str:
    return (
        f"The arguments for {name!r} could not be used: {error}. "
        f"You sent: {raw!r}. Send the arguments as one JSON object."
    )


def tool_invalid_arguments(name: str, problems: str) -> str:
    return f"Invalid arguments for {name!r}:\n{problems}\nFix them and call the tool again."


def callback_raised(callback: str, exc: BaseException, event: str | None = None) -> str:
    """Your code (a listener or a hook) raised; the run ended because of it."""
    what = f"a listener raised on {event}" if event is not None else f"the {callback} hook raised"
    return f"{what}: {type(exc).__name__}: {exc}"


def session_write_failed(exc: BaseException, count: int) -> str:
    """The session could not store the run's messages; the run ended because of it."""
    return (
        f"the session could not store {count} message(s), which are not saved: "
        f"{type(exc).__name__}: {exc}"
    )


def reading_failed(exc: BaseException) -> str:
    """An exception while reading a reply that no rule foresaw (a bug: worth a report)."""
    return f"reading the reply failed: {type(exc).__name__}: {exc}"


def tool_denied(name: str, reason: str | None) -> str:
    reason = (reason or "").strip()
    why = f": {reason}" if reason else ""
    if not why.endswith((".", "!", "?")):
        why += "."
    return f"The call to {name!r} was not approved{why} Do not retry it as is."


def tool_update_not_awaited(name: str, count: int) -> str:
    return (
        f"Tool {name!r} called update(...) {count} time(s) without await, so its progress "
        "was never delivered: write `await update(...)` (a bug in the tool, not in its "
        "arguments)."
    )


def response_format_not_sent(api: str) -> str:
    """A format with no JSON-schema response format of its own (structured output goes
    through a final-answer tool there)."""
    return (
        f"response_format is not sent to {api}: ask for structured output "
        "through a final-answer tool (Agent(output_mode='tool'), the default there)"
    )


def tool_needs_approver(name: str) -> str:
    return (
        f"Tool {name!r} needs approval, and this agent has no approve callback: "
        "the call was not run."
    )
