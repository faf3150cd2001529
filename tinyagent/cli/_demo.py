"""The demo behind ``tinyagent demo``: an agent with a calculator and a clock."""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import operator
import os
import re
import sys
from typing import Any

from ..agent import Agent
from ..messages import (
    AgentEndEvent,
    AgentEvent,
    MessageUpdateEvent,
    TextDeltaEvent,
    ThinkingDeltaEvent,
    ToolExecutionEndEvent,
    ToolExecutionStartEvent,
)
from ..testing import LocalServer, RecordedRequest, Reply, ToolCallSpec, text_reply, tool_call_reply
from ..tools import Tool, ToolResult, ToolUpdate
from ._models import LOCAL, model_for

_OPS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
    ast.FloorDiv: operator.floordiv,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def evaluate(expression: str) -> float | int:
    """Arithmetic only: numbers, + - * / // % ** and parentheses (no names, no calls)."""

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.operand))
        raise ValueError(f"not allowed in an arithmetic expression: {ast.dump(node)[:60]}")

    return ev(ast.parse(expression, mode="eval").body)  # type: ignore[no-any-return]


async def _calculate(call_id: str, args: dict[str, Any], update: ToolUpdate) -> ToolResult:
    value = evaluate(args["expression"])
    return ToolResult(f"{args['expression']} = {value}", details={"value": value})


async def _now(call_id: str, args: dict[str, Any], update: ToolUpdate) -> str:
    tz = dt.UTC
    return dt.datetime.now(tz).strftime("%Y-%m-%d %H:%M:%S UTC")


calculator = Tool(
    "calculator",
    "Evaluate an arithmetic expression exactly.",
    {
        "type": "object",
        "properties": {"expression": {"type": "string", "description": "e.g. (17 + 4) * 3"}},
        "required": ["expression"],
    },
    _calculate,
)
clock = Tool(
    "clock", "The current date and time in UTC.", {"type": "object", "properties": {}}, _now
)


def _expression(prompt: Any) -> str:
    """The arithmetic in the prompt (the longest run of digits and operators that holds
    a digit), so that ``--prompt "what is 2+2"`` is answered; else the demo's own."""
    runs = re.findall(r"[\d\s.+\-*/()%]+", prompt if isinstance(prompt, str) else "")
    runs = [r.strip() for r in runs if re.search(r"\d", r) and re.search(r"[+\-*/%]", r)]
    return max(runs, key=len) if runs else "(17 + 4) * 3"


def _demo_server_reply(request: RecordedRequest) -> Reply:
    """A scripted 'model': first ask for both tools, then answer from their results."""
    messages = request.json["messages"]
    results = [m["content"] for m in messages if m["role"] == "tool"]
    if not results:
        asked = next((m["content"] for m in messages if m["role"] == "user"), "")
        return tool_call_reply(
            [
                ToolCallSpec("calculator", {"expression": _expression(asked)}),
                ToolCallSpec("clock", {}),
            ],
            text="Let me work that out. ",
            chunk_size=5,
            chunk_delay=0.01,
        )
    answer = (
        f"The calculator says {results[0]}, and the clock reads {results[1]}. "
        "Both tools ran concurrently, each in its own task under the run's task group."
    )
    return text_reply(answer, chunk_size=6, chunk_delay=0.01)


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _printer(terminal: bool) -> Any:
    """Print a run's events: colour on a terminal (unless ``NO_COLOR`` is set), plain
    text when piped."""
    colour = terminal and not os.environ.get("NO_COLOR")
    at_line_start = True

    def line(text: str) -> None:
        nonlocal at_line_start
        _write(("" if at_line_start else "\n") + text + "\n")
        at_line_start = True

    def inline(text: str) -> None:
        nonlocal at_line_start
        _write(text)
        at_line_start = text.endswith("\n")

    def paint(code: str, text: str) -> str:
        # Colour on a terminal (tool calls apart from the answer); plain when piped.
        return f"\x1b[{code}m{text}\x1b[0m" if colour else text

    def on_event(e: AgentEvent) -> None:
        if isinstance(e, MessageUpdateEvent):
            if isinstance(e.event, TextDeltaEvent):
                inline(e.event.delta)
            elif isinstance(e.event, ThinkingDeltaEvent):
                inline(paint("2", e.event.delta))
        elif isinstance(e, ToolExecutionStartEvent):
            line(paint("36", f"  -> {e.call.name}({e.call.arguments})"))
        elif isinstance(e, ToolExecutionEndEvent):
            mark, code = ("!!", "31") if e.result.is_error else ("<-", "32")
            line(paint(code, f"  {mark} {e.call.name}: {e.result.text}"))
        elif isinstance(e, AgentEndEvent):
            u = e.usage
            err = f": {e.error_message}" if e.error_message else ""
            line(paint("2", f"[{e.stop_reason}{err}; {u.input} in, {u.output} out]"))

    return on_event


async def run_demo(args: argparse.Namespace) -> int:
    prompt = args.prompt or "What is (17 + 4) * 3, and what time is it?"
    system = "You are a concise assistant. Use the tools for arithmetic and time."
    if args.model and args.base_url != LOCAL:
        # provider:model as everywhere, or an id at --base-url
        model = model_for(args.model, args.base_url, api_key_env=args.api_key_env)
        agent = Agent(model, system, [calculator, clock])
        agent.subscribe(_printer(sys.stdout.isatty()))
        messages = await agent.prompt(prompt)
        if agent.state.last_error:
            print(f"tinyagent demo: {agent.state.last_error}", file=sys.stderr)
            return 1
        return 0 if messages else 1
    async with LocalServer(handler=_demo_server_reply) as server:
        agent = Agent(server.model("demo-model"), system, [calculator, clock])
        agent.subscribe(_printer(sys.stdout.isatty()))
        _write(f"> {prompt}\n")
        await agent.prompt(prompt)
    return 1 if agent.state.last_error else 0
