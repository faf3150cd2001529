"""Functions as tools: ``@tinyagent.tool`` derives the JSON Schema from type hints.

The schema comes from the signature (names, annotations, defaults) and the description
from the docstring's first paragraph, so a tool is defined once, in plain Python, and
the model sees exactly what the function accepts.
"""

from __future__ import annotations

import inspect
import json
import threading
import typing
from collections.abc import Callable
from typing import Any, NewType, TypeVar, overload

import anyio.to_thread

from ..messages import ToolError
from ..serde import converter
from ._arguments import arguments_converter
from ._docstrings import describe_parameters, summary
from ._run_context import RunContext, current_run_context
from ._schema import schema_of
from ._tool import Tool, ToolResult, ToolUpdate

__all__ = ["CancelToken", "ToolCallId", "ToolCancelled", "tool"]

F = TypeVar("F", bound=Callable[..., Any])


class CancelToken:
    """Injected into a plain-function tool that asks for it (a parameter annotated
    ``CancelToken``): set once the call is cancelled, timed out or its run aborted. The
    call is answered at once either way; a thread that checks the token can stop its
    work early instead of running on to its end."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def is_set(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise ToolCancelled("the tool call was cancelled")

    def set(self) -> None:
        self._event.set()


class ToolCancelled(Exception):
    """Raised by :meth:`CancelToken.raise_if_cancelled`."""


ToolCallId = NewType("ToolCallId", str)
"""Annotate a parameter ``ToolCallId`` to receive the call's id (never shown to the model)."""


def _injected(hint: Any, name: str, kind: Any) -> str | None:
    if hint is ToolCallId:
        return "call_id"
    if hint is RunContext:
        return "context"
    if hint is CancelToken:
        return "cancel"
    if hint == ToolUpdate or (name == "update" and kind is inspect.Parameter.KEYWORD_ONLY):
        return "update"
    return None


def _describe(
    fn: Callable[..., Any],
) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, str]]:
    """The description, the schema, the model-facing parameters' annotations, and the
    injected parameters (name -> what). Positional-only parameters are named to the
    model like the others; the call passes them by position."""
    doc = inspect.getdoc(fn) or ""
    notes = describe_parameters(doc)
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except NameError as exc:
        raise TypeError(f"tool {fn.__name__}: cannot resolve its type hints ({exc})") from None
    properties: dict[str, Any] = {}
    required: list[str] = []
    model_params: dict[str, Any] = {}
    injected: dict[str, str] = {}
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"tool {fn.__name__}: *args/**kwargs cannot be described to a model")
        hint = hints.get(name, p.annotation)
        what = _injected(hint, name, p.kind)
        if what is not None:
            injected[name] = what
            continue
        prop = schema_of(hint, f"tool {fn.__name__}, argument {name!r}")
        if name in notes and "description" not in prop:
            prop["description"] = notes[name]
        if p.default is p.empty:
            required.append(name)
        elif p.default is None or isinstance(p.default, str | int | float | bool):
            prop["default"] = p.default
        properties[name] = prop
        model_params[name] = hint
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return summary(doc), schema, model_params, injected


def _structure(name: str, value: Any, hint: Any) -> Any:
    if hint is inspect.Parameter.empty or hint is Any:
        return value
    try:
        return arguments_converter.structure(value, hint)
    except Exception as exc:
        shown = getattr(hint, "__name__", None) or repr(hint)
        raise ToolError(
            f"argument {name!r}: {value!r} cannot be read as {shown} ({type(exc).__name__}: {exc})"
        ) from None


def _as_result(value: Any) -> ToolResult | str:
    """A return value as the call's result: text as it is, anything else as JSON (through
    the project's converter), kept whole in ``details``."""
    if isinstance(value, ToolResult | str):
        return value
    try:
        text = json.dumps(converter.unstructure(value), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        # The tool ran; what it returned cannot be written as JSON. Say that, not that
        # it failed (the model would try again, and it would "fail" again).
        raise ToolError(
            f"The tool ran, but its result could not be sent: a {type(value).__name__} "
            f"cannot be written as JSON ({exc}); it should return text, numbers, lists and "
            "dicts of them, or an attrs class or dataclass of them"
        ) from None
    return ToolResult(text, details=value)


def _make(
    fn: Callable[..., Any], name: str | None, description: str | None, **options: Any
) -> Tool:
    doc, schema, params, injected = _describe(fn)
    is_async = inspect.iscoroutinefunction(fn)
    # Positional-only parameters, in order, with their defaults (an omitted one is
    # passed its default, so that a later one can still go by position).
    positional = [
        (p.name, p.default)
        for p in inspect.signature(fn).parameters.values()
        if p.kind is p.POSITIONAL_ONLY
    ]

    def call(kwargs: dict[str, Any]) -> Any:
        if not positional:
            return fn(**kwargs)
        given = [kwargs.pop(n) if n in kwargs else d for n, d in positional]
        while given and given[-1] is inspect.Parameter.empty:
            given.pop()  # a required one missing: the call's error names it
        return fn(*given, **kwargs)

    async def execute(call_id: str, args: dict[str, Any], update: ToolUpdate) -> ToolResult | str:
        kwargs = {k: _structure(k, v, params[k]) for k, v in args.items() if k in params}
        token = CancelToken() if "cancel" in injected.values() else None
        supplied = {
            "call_id": ToolCallId(call_id),
            "update": update,
            "context": current_run_context(),
            "cancel": token,
        }
        for pname, what in injected.items():
            kwargs[pname] = supplied[what]
        if is_async:
            return _as_result(await call(kwargs))
        # A plain function runs in a worker thread (bounded by anyio's thread limiter),
        # so it cannot stall the event loop. Python cannot stop a thread: on timeout,
        # abort or deadline the call is answered at once and the thread is abandoned (it
        # runs on, its result dropped, unless it checks its CancelToken).
        try:
            result = await anyio.to_thread.run_sync(lambda: call(kwargs), abandon_on_cancel=True)
        finally:
            if token is not None:
                token.set()
        return _as_result(result)

    return Tool(
        name or fn.__name__,
        description if description is not None else doc,
        schema,
        execute,
        **options,
    )


@overload
def tool(fn: F, /) -> Tool: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    sequential: bool = False,
    requires_approval: bool = False,
) -> Callable[[Callable[..., Any]], Tool]: ...
def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    sequential: bool = False,
    requires_approval: bool = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a :class:`Tool` from a function: ``@tool`` or ``@tool(timeout=10)``.

    Arguments become the JSON Schema (required unless they have a default); the first
    paragraph of the docstring is the description. The function may be async or plain
    (plain ones run in a worker thread, abandoned if the call is cancelled or times out)
    and returns a ``str``, a :class:`ToolResult`, or any other value (sent as JSON through
    the project's converter, kept whole in ``details``). Parameters annotated
    ``ToolCallId``, ``RunContext``, ``CancelToken`` or ``ToolUpdate`` (or a keyword-only
    ``update``) are injected, never shown to the model.
    """

    def wrap(f: Callable[..., Any]) -> Tool:
        return _make(
            f,
            name,
            description,
            timeout=timeout,
            sequential=sequential,
            requires_approval=requires_approval,
        )

    return wrap(fn) if fn is not None else wrap
