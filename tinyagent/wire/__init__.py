"""The sans-IO core, and the contract between providers and transports.

Bytes in, events out, with no I/O: the SSE decoder, the assembler that builds a reply
from a provider's deltas, the ``<think>`` tag splitter and the pure byte parser; and
what a call asks for (:class:`StreamOptions`, :class:`ResponseFormat`), the request a
provider builds (:class:`PreparedRequest`) and the parser protocols a transport drives.

Imports only ``messages`` and ``_util``: providers build on it from above, transports
drive it, and neither imports the other to agree on it.
"""

from __future__ import annotations

from ._assembly import (
    DEFAULT_MAX_ARGUMENT_BYTES,
    MAX_ARGUMENT_DEPTH,
    AssemblingParser,
    MessageAssembler,
    build_message,
    cut_to_argument_depth,
    failure_of,
    loads_json_object,
    parse_tool_arguments,
    priced_usage,
)
from ._eventstream import EventStreamDecoder, encode_frame
from ._parsers import ByteParser, PayloadParser, StopVerdict
from ._pure import NoEvents, PureByteParser
from ._request import (
    PreparedRequest,
    RequestCaches,
    ResponseFormat,
    StreamOptions,
    base_headers,
    merge_headers,
    resolve_api_key,
    stream_options,
)
from ._sse import DEFAULT_MAX_LINE_BYTES, ServerSentEvent, SSEDecoder
from ._think_tags import ThinkTagSplitter

__all__ = [
    "DEFAULT_MAX_ARGUMENT_BYTES",
    "DEFAULT_MAX_LINE_BYTES",
    "MAX_ARGUMENT_DEPTH",
    "AssemblingParser",
    "ByteParser",
    "EventStreamDecoder",
    "MessageAssembler",
    "NoEvents",
    "PayloadParser",
    "PreparedRequest",
    "PureByteParser",
    "RequestCaches",
    "ResponseFormat",
    "SSEDecoder",
    "ServerSentEvent",
    "StopVerdict",
    "StreamOptions",
    "ThinkTagSplitter",
    "base_headers",
    "build_message",
    "cut_to_argument_depth",
    "encode_frame",
    "failure_of",
    "loads_json_object",
    "merge_headers",
    "parse_tool_arguments",
    "priced_usage",
    "resolve_api_key",
    "stream_options",
]
