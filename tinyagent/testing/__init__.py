"""Test kit: a real local server that speaks OpenAI chat completions, Anthropic
Messages, OpenAI Responses, Gemini and Bedrock (``/chat/completions``, ``/messages``,
``/responses``, ``:streamGenerateContent``, ``/converse-stream``).

Use it to test your own agents without a network or a key::

    from . import LocalServer, text_reply

    async with LocalServer([text_reply("Hello!")]) as server:
        message = await tinyagent.complete(server.model(), context)

It imports only ``messages`` and ``wire`` (the event-stream frame encoder): a test
server knows the wire, not the agent.
"""

from ._anthropic_replies import (
    anthropic_error_event_reply,
    anthropic_events_reply,
    anthropic_overloaded_reply,
    anthropic_text_reply,
    anthropic_tool_call_reply,
)
from ._bedrock_replies import bedrock_events_reply, bedrock_text_reply, bedrock_tool_call_reply
from ._gemini_replies import gemini_chunks_reply, gemini_text_reply, gemini_tool_call_reply
from ._local import local_model
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
from ._responses_replies import (
    responses_error_reply,
    responses_events_reply,
    responses_text_reply,
    responses_tool_call_reply,
)
from ._scripted import scripted_reply
from ._server import LocalServer, RecordedRequest

__all__ = [
    "LocalServer",
    "RecordedRequest",
    "Reply",
    "ToolCallSpec",
    "anthropic_error_event_reply",
    "anthropic_events_reply",
    "anthropic_overloaded_reply",
    "anthropic_text_reply",
    "anthropic_tool_call_reply",
    "bedrock_events_reply",
    "bedrock_text_reply",
    "bedrock_tool_call_reply",
    "chunk",
    "chunks_reply",
    "error_reply",
    "gemini_chunks_reply",
    "gemini_text_reply",
    "gemini_tool_call_reply",
    "local_model",
    "responses_error_reply",
    "responses_events_reply",
    "responses_text_reply",
    "responses_tool_call_reply",
    "scripted_reply",
    "sse_file_reply",
    "sse_reply",
    "stream_error_reply",
    "text_reply",
    "tool_call_reply",
]
