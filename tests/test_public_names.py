"""The public surface of 0.1 (``tinyagent.__all__`` and each room's ``__all__`` at
2a43bd0), imported from the paths users know: the rooms moved, no public name did."""

from __future__ import annotations

import importlib

import pytest

TOP_LEVEL = (
    "Agent",
    "AgentBusyError",
    "AgentEndEvent",
    "AgentEvent",
    "AgentRun",
    "AgentStartEvent",
    "AgentState",
    "Approval",
    "AssistantContent",
    "AssistantMessage",
    "AssistantMessageStream",
    "CallbackError",
    "CancelToken",
    "Context",
    "Cost",
    "CostTier",
    "DoneEvent",
    "ErrorEvent",
    "Failure",
    "FailureKind",
    "ImageContent",
    "InMemorySession",
    "JSONLSession",
    "LoopConfig",
    "Message",
    "MessageEndEvent",
    "MessageStartEvent",
    "MessageUpdateEvent",
    "Model",
    "ModelCost",
    "OutputError",
    "OutputValidationError",
    "ProviderError",
    "ResponseFormat",
    "RunContext",
    "RunEnd",
    "SQLiteSession",
    "SSEDecoder",
    "ServerSentEvent",
    "StartEvent",
    "StopReason",
    "StreamEvent",
    "StreamFormatError",
    "StreamOptions",
    "TextContent",
    "TextDeltaEvent",
    "TextEndEvent",
    "TextStartEvent",
    "ThinkingContent",
    "ThinkingDeltaEvent",
    "ThinkingEndEvent",
    "ThinkingLevel",
    "ThinkingStartEvent",
    "TinyAgentError",
    "Tool",
    "ToolCall",
    "ToolCallDeltaEvent",
    "ToolCallEndEvent",
    "ToolCallId",
    "ToolCallStartEvent",
    "ToolCancelled",
    "ToolDefinition",
    "ToolError",
    "ToolExecutionEndEvent",
    "ToolExecutionStartEvent",
    "ToolExecutionUpdateEvent",
    "ToolResult",
    "ToolResultMessage",
    "ToolSchema",
    "ToolUpdate",
    "TransportError",
    "TurnEndEvent",
    "TurnSettings",
    "TurnStartEvent",
    "Usage",
    "UserContent",
    "UserMessage",
    "__version__",
    "agent_loop",
    "catalogue",
    "complete",
    "context",
    "native_available",
    "output",
    "providers",
    "run_sync",
    "serde",
    "sessions",
    "stream",
    "tool",
    "tools",
    "transports",
)

ROOMS: dict[str, tuple[str, ...]] = {
    "catalogue": (
        "PROVIDERS",
        "CatalogueEntry",
        "ProviderInfo",
        "lookup",
        "model_from_name",
        "prices_date",
        "prices_source",
    ),
    "context": (
        "ContextPolicy",
        "DropOldest",
        "Summarize",
        "TokenEstimator",
        "cut_points",
        "estimate_tokens",
    ),
    "output": (
        "FINAL_ANSWER_TOOL",
        "OutputError",
        "OutputMode",
        "OutputSpec",
        "OutputStream",
        "OutputValidationError",
        "PartialJSON",
        "PartialJSONError",
        "output_spec",
    ),
    "providers": (
        "AnthropicProvider",
        "ByteParser",
        "OpenAIChatProvider",
        "OpenAIResponsesProvider",
        "PayloadParser",
        "Provider",
        "StopVerdict",
        "get_provider",
        "http_failure",
        "is_context_overflow",
        "known_apis",
        "register_provider",
    ),
    "serde": (
        "converter",
        "dumps",
        "loads",
        "structure",
        "unstructure",
    ),
    "sessions": (
        "InMemorySession",
        "JSONLSession",
        "SQLiteSession",
        "Session",
        "unanswered_results",
    ),
    "tools": (
        "Approval",
        "CancelToken",
        "RunContext",
        "Tool",
        "ToolCallId",
        "ToolCancelled",
        "ToolResult",
        "ToolUpdate",
        "tool",
    ),
    "transports": (
        "TRANSPORTS",
        "EventSource",
        "RateGate",
        "Session",
        "make_byte_parser",
        "make_source",
        "native_available",
        "resolve_transport",
        "retry_delay",
    ),
    "tracing": (
        "OpenTelemetryTracer",
        "Span",
        "SpanKind",
        "Tracer",
    ),
    "mcp": (
        "MCPConnection",
        "connect",
    ),
    "batch": (
        "BatchGate",
        "BatchItem",
        "BatchStats",
        "BatchSummary",
        "Format",
        "run_batch",
        "run_batch_sync",
        "summary_of_file",
    ),
    "testing": (
        "LocalServer",
        "RecordedRequest",
        "Reply",
        "ToolCallSpec",
        "anthropic_error_event_reply",
        "anthropic_events_reply",
        "anthropic_overloaded_reply",
        "anthropic_text_reply",
        "anthropic_tool_call_reply",
        "chunk",
        "chunks_reply",
        "error_reply",
        "responses_error_reply",
        "responses_events_reply",
        "responses_text_reply",
        "responses_tool_call_reply",
        "sse_file_reply",
        "sse_reply",
        "stream_error_reply",
        "text_reply",
        "tool_call_reply",
    ),
    "cli": ("main",),
}


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_every_top_level_name_is_still_there(name: str) -> None:
    import tinyagent

    assert name in tinyagent.__all__
    assert getattr(tinyagent, name) is not None


@pytest.mark.parametrize(
    ("room", "name"),
    [(room, name) for room, names in ROOMS.items() for name in names if name != "Session"]
    + [("sessions", "Session")],
)
def test_every_room_name_imports_from_its_old_path(room: str, name: str) -> None:
    module = importlib.import_module(f"tinyagent.{room}")
    exec(f"from tinyagent.{room} import {name}", {})  # the form users write
    assert getattr(module, name) is not None


def test_the_connections_old_name_still_works_and_says_its_new_one() -> None:
    from tinyagent import transports

    with pytest.warns(DeprecationWarning, match="Connections"):
        from tinyagent.transports import Session
    assert Session is transports.Connections
    assert "Session" not in transports.__all__  # a star import does not warn


def test_the_top_level_version_is_the_package_version() -> None:
    from importlib.metadata import version

    import tinyagent

    assert tinyagent.__version__ == version("tinyagent-sdk")


@pytest.mark.parametrize("room", ["tinyagent", *sorted(f"tinyagent.{r}" for r in ROOMS)])
def test_every_name_a_face_lists_in_all_is_there(room: str) -> None:
    # ``from tinyagent import *`` fails on a listed name the face forgot to import
    face = importlib.import_module(room)
    assert [n for n in face.__all__ if not hasattr(face, n)] == []
