"""The loop's options (``agent_loop(..., **options)``, ``Agent(..., **options)``), checked
where they are written, and what a ``before_turn`` hook may change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

import attrs

from .._util.checks import callable_or_none, count_at_least, seconds_or_none
from ..budget import Budget
from ..call import check_call_options
from ..catalogue import as_model
from ..messages import Message, Model, ToolCall, TurnEndEvent
from ..tools import Approval, ToolResult
from ..tracing import Tracer
from ..wire import StreamOptions

__all__ = ["LoopConfig", "TurnSettings", "loop_config"]


def _maybe_model(value: Model | str | None) -> Model | None:
    return as_model(value) if value is not None else None


@attrs.frozen
class TurnSettings:
    """What a ``before_turn`` hook may change for the coming model call."""

    model: Model | None = attrs.field(default=None, converter=_maybe_model)
    reasoning_effort: str | None = None


def _options_repr(options: Mapping[str, Any]) -> str:
    # An API key or auth header passed as a stream option must not show in a repr.
    return repr({k: ("***" if k in ("api_key", "headers") else v) for k, v in options.items()})


def _check_stream_options(_inst: Any, _attr: Any, value: Mapping[str, Any]) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(
            f"stream_options must be a mapping of option names to values, got {value!r}"
        )
    check_call_options(value)  # unknown names and bad values fail now, not later


def _tracer(_inst: Any, _attr: Any, value: Any) -> None:
    if value is not None and not isinstance(value, Tracer):
        raise TypeError(
            "tracer must have start() and record_content (a tinyagent.tracing.Tracer, e.g. "
            f"OpenTelemetryTracer()), got {type(value).__name__}"
        )


def _budget(_inst: Any, _attr: Any, value: Any) -> None:
    if value is not None and not isinstance(value, Budget):
        raise TypeError(
            f"budget must be a tinyagent.budget.Budget (e.g. Budget(max_cost=1.0)), got {value!r}"
        )


def _scope(_inst: Any, _attr: Any, value: Any) -> None:
    if value not in ("run", "agent"):
        raise ValueError(f"budget_scope must be 'run' or 'agent', got {value!r}")


@attrs.frozen(kw_only=True)
class LoopConfig:
    """The loop's options, as ``agent_loop(..., **options)`` and ``Agent(..., **options)``
    take them.

    ``tool_timeout`` applies to each call unless its tool sets its own (None: no
    timeout); ``deadline`` bounds the whole run (model calls and tools together), in seconds. Hooks may be sync
    or async. ``stream_options`` are passed to every model call (``temperature``,
    ``max_tokens``, ``transport``, ``read_timeout``…).
    """

    tool_timeout: float | None = attrs.field(default=180.0, validator=seconds_or_none)
    max_concurrent_tools: int | None = attrs.field(
        default=None, validator=count_at_least(1, none_means="no limit")
    )
    sequential_tools: bool = False
    max_turns: int | None = attrs.field(
        default=None, validator=count_at_least(1, none_means="no limit")
    )
    deadline: float | None = attrs.field(default=None, validator=seconds_or_none)
    get_api_key: Callable[[Model], str | Awaitable[str | None] | None] | None = attrs.field(
        default=None, validator=callable_or_none
    )
    before_turn: (
        Callable[[int, Model], TurnSettings | Awaitable[TurnSettings | None] | None] | None
    ) = attrs.field(default=None, validator=callable_or_none)
    approve: Callable[[ToolCall], Approval | bool | Mapping[str, Any] | Awaitable[Any]] | None = (
        attrs.field(default=None, validator=callable_or_none)
    )
    before_tool_call: (
        Callable[[ToolCall], ToolResult | Awaitable[ToolResult | None] | None] | None
    ) = attrs.field(default=None, validator=callable_or_none)
    after_tool_call: (
        Callable[[ToolCall, ToolResult], ToolResult | Awaitable[ToolResult | None] | None] | None
    ) = attrs.field(default=None, validator=callable_or_none)
    should_stop_after_turn: Callable[[TurnEndEvent], bool | Awaitable[bool]] | None = attrs.field(
        default=None, validator=callable_or_none
    )
    transform_context: (
        Callable[[list[Message]], Sequence[Message] | Awaitable[Sequence[Message]]] | None
    ) = attrs.field(default=None, validator=callable_or_none)
    convert_to_llm: (
        Callable[[list[Any]], Sequence[Message] | Awaitable[Sequence[Message]]] | None
    ) = attrs.field(default=None, validator=callable_or_none)
    context_policy: (
        Callable[[list[Message], Model, bool], Sequence[Message] | Awaitable[Sequence[Message]]]
        | None
    ) = attrs.field(default=None, validator=callable_or_none)
    """What to send of a long transcript (``tinyagent.context.DropOldest()``…): called
    before each model call, and once more after a ``context_overflow`` failure (then
    ``overflowed=True`` and the call is retried once)."""
    stream_options: Mapping[str, Any] = attrs.field(
        factory=dict, repr=_options_repr, validator=_check_stream_options
    )
    budget: Budget | None = attrs.field(default=None, validator=_budget)
    """A cap on what the run's model calls may spend (``tinyagent.budget.Budget``):
    each call's worst case is reserved before it is sent; when the next one does not
    fit, the run ends with ``stop_reason="budget"``. Sub-agents called as tools draw on
    it too."""
    budget_scope: Literal["run", "agent"] = attrs.field(default="run", validator=_scope)
    """``run``: each run gets the budget's caps afresh; ``agent``: every run draws on
    the one ``Budget`` object (an agent's whole life)."""
    event_buffer: int = attrs.field(default=64, validator=count_at_least(0))
    tracer: Tracer | None = attrs.field(default=None, validator=_tracer)
    """Spans for the run, its turns, model calls and tool calls
    (``tinyagent.tracing.OpenTelemetryTracer()``); None: no tracing, no cost."""


_LOOP_OPTIONS = frozenset(a.name for a in attrs.fields(LoopConfig))


# The seed's AgentOptions that have no option of the same name here, and what replaces
# each (the porting guide's table says the same).
_SEED_OPTIONS = {
    "stream_fn": "register a Provider (tinyagent.providers.register_provider) and name "
    "its api on the Model",
    "initial_state": "pass messages=[...] (and model=, system_prompt=, tools=), or "
    "Agent.load(path) for a saved agent",
    "enable_prompt_caching": "caching is on by default: cache='auto' on the Model "
    "(or per call); cache='none' turns it off",
}


def loop_config(options: Mapping[str, Any]) -> LoopConfig:
    """``LoopConfig(**options)``, with an unknown name reported in our words."""
    unknown = sorted(set(options) - _LOOP_OPTIONS)
    if unknown:
        hint = ""
        stream_names = [n for n in unknown if n in attrs.fields_dict(StreamOptions)]
        if stream_names:
            hint = (
                f" ({', '.join(stream_names)}: pass model-call options in stream_options={{...}})"
            )
        seed = [f"{n}: {_SEED_OPTIONS[n]}" for n in unknown if n in _SEED_OPTIONS]
        if seed:
            hint += f" (from tiny-agent-os? {'; '.join(seed)})"
        raise TypeError(
            f"unknown agent option(s) {', '.join(map(repr, unknown))}{hint}; "
            f"known: {', '.join(sorted(_LOOP_OPTIONS))}"
        )
    return LoopConfig(**options)
