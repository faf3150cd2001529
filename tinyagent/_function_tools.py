"""Functions as tools: ``@tinyagent.tool`` derives the JSON Schema from type hints.

The schema comes from the signature (names, annotations, defaults) and the description
from the docstring's first paragraph, so a tool is defined once, in plain Python, and
the model sees exactly what the function accepts.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar, overload

import anyio.to_thread

from ._tools import Tool, ToolResult, ToolUpdate

__all__ = ["tool"]

F = TypeVar("F", bound=Callable[..., Any])

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
}


def _schema(annotation: Any, where: str) -> dict[str, Any]:
    if annotation is inspect.Parameter.empty or annotation is Any:
        return {}
    if annotation in _SCALARS:
        return dict(_SCALARS[annotation])
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_schema(a, where) for a in args]}
    if origin in (list, tuple, set, frozenset, Sequence) or annotation in (list, tuple):
        item = args[0] if args else Any
        return {"type": "array", "items": _schema(item, where)}
    if origin in (dict, Mapping) or annotation is dict:
        value = args[1] if len(args) == 2 else Any
        return {"type": "object", "additionalProperties": _schema(value, where) or True}
    raise TypeError(
        f"{where}: cannot describe {annotation!r} in JSON Schema; use str, int, float, "
        "bool, Literal, list, dict, unions of these, or write a Tool by hand"
    )


def _describe(fn: Callable[..., Any]) -> tuple[str, dict[str, Any]]:
    doc = inspect.getdoc(fn) or ""
    description = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    try:
        hints = typing.get_type_hints(fn)
    except NameError as exc:
        raise TypeError(f"tool {fn.__name__}: cannot resolve its type hints ({exc})") from None
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"tool {fn.__name__}: *args/**kwargs cannot be described to a model")
        if name == "update" and p.kind is p.KEYWORD_ONLY:
            continue  # the progress callback, not a model argument
        prop = _schema(hints.get(name, p.annotation), f"tool {fn.__name__}, argument {name!r}")
        if p.default is p.empty:
            required.append(name)
        else:
            prop["default"] = p.default
        properties[name] = prop
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return description, schema


def _make(
    fn: Callable[..., Any], name: str | None, description: str | None, **options: Any
) -> Tool:
    doc, schema = _describe(fn)
    wants_update = "update" in inspect.signature(fn).parameters
    is_async = inspect.iscoroutinefunction(fn)

    async def execute(call_id: str, args: dict[str, Any], update: ToolUpdate) -> ToolResult | str:
        kwargs = dict(args)
        if wants_update:
            kwargs["update"] = update
        if is_async:
            result = await fn(**kwargs)
        else:
            # A plain function runs in a worker thread, so it cannot stall the event loop.
            # Python cannot stop a thread: on timeout, abort or deadline the call is
            # answered at once and the thread is abandoned (it runs on to its end in the
            # background and its result is dropped), so a blocking tool never holds up
            # the run.
            result = await anyio.to_thread.run_sync(lambda: fn(**kwargs), abandon_on_cancel=True)
        if isinstance(result, ToolResult | str):
            return result
        return ToolResult(str(result), details=result)

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
) -> Callable[[Callable[..., Any]], Tool]: ...
def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    sequential: bool = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a :class:`Tool` from a function: ``@tool`` or ``@tool(timeout=10)``.

    Arguments become the JSON Schema (required unless they have a default); the first
    paragraph of the docstring is the description. The function may be async or plain
    (plain ones run in a worker thread, abandoned if the call is cancelled or times out)
    and returns a ``str``, a :class:`ToolResult`, or
    any other value (sent as ``str(value)``, kept whole in ``details``). A keyword-only
    ``update`` parameter receives the progress callback.
    """

    def wrap(f: Callable[..., Any]) -> Tool:
        return _make(f, name, description, timeout=timeout, sequential=sequential)

    return wrap(fn) if fn is not None else wrap
