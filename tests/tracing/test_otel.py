"""OpenTelemetry spans of runs, against the SDK's in-memory exporter, on trio and asyncio."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tinyagent import Agent, tool
from tinyagent.testing import LocalServer, ToolCallSpec, error_reply, text_reply, tool_call_reply
from tinyagent.tracing import OpenTelemetryTracer

pytestmark = pytest.mark.anyio


class Started(SpanProcessor):
    """Counts spans started, to prove every one was ended."""

    def __init__(self) -> None:
        self.started = 0

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.started += 1


class Traces:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.started = Started()
        self.provider = TracerProvider()
        self.provider.add_span_processor(self.started)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def tracer(self, **options: Any) -> OpenTelemetryTracer:
        return OpenTelemetryTracer(self.provider, **options)

    @property
    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.spans if s.name.startswith(prefix)]

    def children(self, parent: ReadableSpan) -> list[str]:
        assert parent.context is not None
        return sorted(
            s.name
            for s in self.spans
            if s.parent is not None and s.parent.span_id == parent.context.span_id
        )

    def all_ended(self) -> bool:
        return self.started.started == len(self.spans)


@pytest.fixture
def traces() -> Iterator[Traces]:
    t = Traces()
    USER_TRACER.append(t.provider)
    yield t
    USER_TRACER.pop()
    t.provider.shutdown()


USER_TRACER: list[Any] = []  # the provider of the test running, for the tool's own spans


@tool
async def slow_add(a: int, b: int) -> int:
    """Add, slowly."""
    with USER_TRACER[-1].get_tracer("user-code").start_as_current_span("inside the tool"):
        await anyio.sleep(0.01 * a)
    return a + b


@pytest.mark.parametrize("turn_spans", [False, True])
async def test_parallel_tool_calls_nest_under_their_turn(
    traces: Traces, transport: str, turn_spans: bool
) -> None:
    replies = [
        tool_call_reply(
            [
                ToolCallSpec("slow_add", {"a": 3, "b": 1}, id="c1"),
                ToolCallSpec("slow_add", {"a": 1, "b": 1}, id="c2"),
            ]
        ),
        text_reply("4 and 2"),
    ]
    async with LocalServer(replies) as server:
        agent = Agent(
            server.model(),
            tools=[slow_add],
            tracer=traces.tracer(turn_spans=turn_spans),
            stream_options={"transport": transport},
        )
        await agent.prompt("add")
    assert traces.all_ended()
    (run,) = traces.named("invoke_agent")
    assert run.parent is None and run.status.status_code is not StatusCode.ERROR
    assert run.attributes is not None and run.attributes["gen_ai.operation.name"] == "invoke_agent"
    turn1 = ["chat mock-model", "execute_tool slow_add", "execute_tool slow_add"]
    if turn_spans:
        assert traces.children(run) == ["turn 1", "turn 2"]
        span1, span2 = sorted(traces.named("turn"), key=lambda s: s.name)
        assert traces.children(span1) == turn1
        assert traces.children(span2) == ["chat mock-model"]
    else:  # the calls sit under the run, each marked with its turn
        assert traces.children(run) == sorted([*turn1, "chat mock-model"])
        assert not traces.named("turn")
    calls = [s for s in traces.spans if s.name.startswith(("chat", "execute_tool"))]
    turns = sorted(int(str((s.attributes or {})["tinyagent.turn"])) for s in calls)
    assert turns == [1, 1, 1, 2]
    tools = traces.named("execute_tool")
    assert {t.attributes["gen_ai.tool.call.id"] for t in tools if t.attributes} == {"c1", "c2"}
    for t in tools:  # the tool's own spans nest under its execute_tool span
        assert traces.children(t) == ["inside the tool"]
    chat = traces.named("chat")[0]
    attrs = dict(chat.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "mock-model"
    assert attrs["gen_ai.usage.input_tokens"] == 20 and attrs["gen_ai.usage.output_tokens"] == 10
    assert attrs["gen_ai.response.finish_reasons"] == ("tool_call",)
    assert "gen_ai.input.messages" not in attrs  # content only when asked for


async def test_content_is_recorded_when_asked(traces: Traces) -> None:
    replies = [tool_call_reply([("slow_add", {"a": 0, "b": 2})]), text_reply("2")]
    async with LocalServer(replies) as server:
        agent = Agent(
            server.model(), "Be brief.", [slow_add], tracer=traces.tracer(record_content=True)
        )
        await agent.prompt("add")
    chat = traces.named("chat")[-1].attributes or {}
    sent = json.loads(str(chat["gen_ai.input.messages"]))
    assert sent[0]["content"] == "add"
    assert json.loads(str(chat["gen_ai.output.messages"]))[0]["content"][0]["text"] == "2"
    (call,) = traces.named("execute_tool")
    assert call.attributes is not None and call.attributes["gen_ai.tool.call.result"] == "2"
    (run,) = traces.named("invoke_agent")
    assert (
        run.attributes is not None and run.attributes["gen_ai.system_instructions"] == "Be brief."
    )


@pytest.mark.parametrize("turn_spans", [False, True])
async def test_an_aborted_run_ends_every_span_with_an_error(
    traces: Traces, turn_spans: bool
) -> None:
    @tool
    async def wait() -> str:
        """Wait a long time."""
        await anyio.sleep(30)
        return "done"

    async with LocalServer([tool_call_reply([("wait", {})])]) as server:
        agent = Agent(server.model(), tools=[wait], tracer=traces.tracer(turn_spans=turn_spans))
        async with anyio.create_task_group() as tg:
            tg.start_soon(agent.prompt, "wait")
            await anyio.sleep(0.3)
            agent.abort()
    assert traces.all_ended()
    (run,) = traces.named("invoke_agent")
    assert run.status.status_code is StatusCode.ERROR
    assert run.attributes is not None and run.attributes["error.type"] == "aborted"
    (call,) = traces.named("execute_tool")
    assert call.status.status_code is StatusCode.ERROR
    if turn_spans:
        (turn,) = traces.named("turn")
        assert turn.status.status_code is StatusCode.ERROR
    else:
        assert not traces.named("turn")


async def test_a_failed_model_call_marks_its_span_and_the_run(traces: Traces) -> None:
    async with LocalServer([error_reply(401, "bad key", error_type="authentication_error")]) as s:
        await Agent(s.model(), tracer=traces.tracer()).prompt("hi")
    assert traces.all_ended()
    (chat,) = traces.named("chat")
    assert chat.status.status_code is StatusCode.ERROR
    assert chat.attributes is not None and chat.attributes["error.type"] == "authentication"
    (run,) = traces.named("invoke_agent")
    assert run.status.status_code is StatusCode.ERROR


async def test_a_sub_agents_run_nests_under_the_calling_tool(traces: Traces) -> None:
    replies = [
        tool_call_reply([("helper", {"task": "do it"})]),
        text_reply("sub-agent done"),
        text_reply("all done"),
    ]
    async with LocalServer(replies) as server:
        helper = Agent(server.model(), tracer=traces.tracer())
        boss = Agent(
            server.model(), tools=[helper.as_tool("helper", "Helps.")], tracer=traces.tracer()
        )
        await boss.prompt("delegate")
    assert traces.all_ended()
    (call,) = traces.named("execute_tool helper")
    assert traces.children(call) == ["invoke_agent tinyagent"]


class _CountingNoOp(trace.NoOpTracerProvider):
    """The API's no-op provider (what a program without the SDK gets), counting the
    spans asked of it."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        provider = self

        class Counting(trace.NoOpTracer):
            def start_span(self, name: str, *a: Any, **k: Any) -> trace.Span:
                provider.asked.append(name)
                return super().start_span(name, *a, **k)

        return Counting()


async def test_with_no_sdk_a_run_asks_for_one_span_and_does_nothing_more() -> None:
    """The API alone makes spans that record nothing and carry no trace: the run's own
    span shows it, and the run does no tracing work after (no span per turn, model call
    or tool call), a sub-agent's run included."""
    provider = _CountingNoOp()
    replies = [tool_call_reply([("slow_add", {"a": 0, "b": 2})]), text_reply("2")]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=[slow_add], tracer=OpenTelemetryTracer(provider))
        USER_TRACER.append(provider)
        try:
            await agent.prompt("add")
        finally:
            USER_TRACER.pop()
    assert agent.state.last_error is None
    assert provider.asked == ["invoke_agent tinyagent", "inside the tool"]


async def test_a_run_inside_a_valid_but_unsampled_trace_still_propagates(traces: Traces) -> None:
    """A span that records nothing but has a valid trace (sampled out upstream) is kept:
    code inside a tool must still see the trace to pass it on."""
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    provider = TracerProvider(sampler=ALWAYS_OFF)
    seen: list[bool] = []

    @tool
    async def look() -> str:
        """Look at the current span."""
        seen.append(trace.get_current_span().get_span_context().is_valid)
        return "ok"

    replies = [tool_call_reply([("look", {})]), text_reply("done")]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=[look], tracer=OpenTelemetryTracer(provider))
        await agent.prompt("look")
    assert seen == [True]


async def test_a_model_calls_span_has_its_real_start_and_end(traces: Traces) -> None:
    """A model call's span is made when the call ends (one SDK call, not three): it still
    starts when the call started, and ends before the tool's span starts."""
    import time

    replies = [tool_call_reply([("slow_add", {"a": 0, "b": 2})]).but(delay=0.05), text_reply("2")]
    async with LocalServer(replies) as server:
        before = time.time_ns()
        await Agent(server.model(), tools=[slow_add], tracer=traces.tracer()).prompt("add")
    assert traces.all_ended()
    chat = min(traces.named("chat"), key=lambda s: s.start_time or 0)
    (tool_span,) = traces.named("execute_tool")
    assert chat.start_time is not None and chat.end_time is not None
    assert tool_span.start_time is not None
    assert before <= chat.start_time
    assert chat.end_time - chat.start_time >= 50_000_000  # the server's delay is inside it
    assert chat.end_time <= tool_span.start_time


async def test_a_model_calls_span_made_current_is_a_parent(traces: Traces) -> None:
    tracer = traces.tracer()
    run = tracer.start("run", {}, None)
    call = tracer.start("chat m", {"gen_ai.request.model": "m", "skipped": None}, run, "client")
    call.set({"gen_ai.usage.output_tokens": 3, "gen_ai.response.id": None})
    with call.activate():
        with traces.provider.get_tracer("user-code").start_as_current_span("inside the call"):
            pass
    call.set({"gen_ai.usage.input_tokens": 5})
    call.end("timeout")
    run.end()
    assert traces.all_ended()
    (chat,) = traces.named("chat")
    assert traces.children(chat) == ["inside the call"]
    (root,) = traces.named("run")
    assert traces.children(root) == ["chat m"]
    assert dict(chat.attributes or {}) == {
        "gen_ai.request.model": "m",
        "gen_ai.usage.output_tokens": 3,
        "gen_ai.usage.input_tokens": 5,
        "error.type": "timeout",
    }
    assert chat.status.status_code is StatusCode.ERROR


async def test_a_model_calls_span_that_is_never_current_keeps_every_attribute(
    traces: Traces,
) -> None:
    tracer = traces.tracer()
    run = tracer.start("run", {}, None)
    call = tracer.start("chat m", {"gen_ai.request.model": "m", "skipped": None}, run, "client")
    call.set({"gen_ai.usage.output_tokens": 3, "gen_ai.response.id": None})
    call.end()
    run.end()
    (chat,) = traces.named("chat")
    assert dict(chat.attributes or {}) == {
        "gen_ai.request.model": "m",
        "gen_ai.usage.output_tokens": 3,
    }
    assert chat.status.status_code is not StatusCode.ERROR
    assert chat.kind is trace.SpanKind.CLIENT
    (root,) = traces.named("run")
    assert traces.children(root) == ["chat m"]
