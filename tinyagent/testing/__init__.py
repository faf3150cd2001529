"""Test kit: a real local server that speaks OpenAI chat completions.

Use it to test your own agents without a network or a key::

    from tinyagent.testing import LocalServer, text_reply

    async with LocalServer([text_reply("Hello!")]) as server:
        message = await tinyagent.complete(server.model(), context)
"""

from ._replies import (
    Reply,
    ToolCallSpec,
    chunk,
    chunks_reply,
    error_reply,
    sse_file_reply,
    sse_reply,
    stream_error_reply,
    text_reply,
    tool_call_reply,
)
from ._server import LocalServer, RecordedRequest

__all__ = [
    "LocalServer",
    "RecordedRequest",
    "Reply",
    "ToolCallSpec",
    "chunk",
    "chunks_reply",
    "error_reply",
    "sse_file_reply",
    "sse_reply",
    "stream_error_reply",
    "text_reply",
    "tool_call_reply",
]
