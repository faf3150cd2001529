"""The peers' agent loops on the same workload as bench_agent.py, for the table.

Run with an interpreter that has the peers installed (they pin their own pydantic and
friends, so they live in their own environment):

    python -m venv /tmp/peers && /tmp/peers/bin/pip install tiny-agent-os==1.2.29 \\
        'pydantic-ai-slim[openai]'
    python benches/bench_agent.py --peers-python /tmp/peers/bin/python

Prints one JSON line: {"cpu": seconds, "wall": seconds} for one prompt of N turns.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def tiny_agent_os(base: str, turns: int) -> None:
    from tinyagent.alchemy_provider import OpenAICompatModel, stream_alchemy_openai_completions

    from tinyagent import Agent, AgentOptions, AgentTool, AgentToolResult, TextContent

    async def step(tool_call_id: str, args: dict[str, Any], signal: Any, on_update: Any) -> Any:
        return AgentToolResult(content=[TextContent(text=f"ok {args.get('i')}")], details={})

    tool = AgentTool(
        name="step",
        description="One step.",
        parameters={"type": "object", "properties": {"i": {"type": "integer"}}},
        execute=step,
    )
    agent = Agent(
        AgentOptions(stream_fn=stream_alchemy_openai_completions, get_api_key=lambda p: "bench")
    )
    agent.set_model(
        OpenAICompatModel(
            provider="openai", id=f"turn-{turns}", base_url=base + "/chat/completions"
        )
    )
    agent.set_system_prompt("You are a bench.")
    agent.set_tools([tool])
    await agent.prompt("go")


async def pydantic_ai(base: str, turns: int) -> None:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider
    from pydantic_ai.usage import UsageLimits

    model = OpenAIChatModel(
        f"turn-{turns}", provider=OpenAIProvider(base_url=base, api_key="bench")
    )
    agent = Agent(model, system_prompt="You are a bench.")

    @agent.tool_plain
    def step(i: int) -> str:
        """One step."""
        return f"ok {i}"

    await agent.run("go", usage_limits=UsageLimits(request_limit=turns + 5))


def main() -> None:
    which, base, turns = sys.argv[1], sys.argv[2], int(sys.argv[3])
    fn = {"tiny-agent-os": tiny_agent_os, "pydantic-ai": pydantic_ai}[which]
    asyncio.run(fn(base, 2))  # warm up
    c0, t0 = _cpu(), time.perf_counter()
    asyncio.run(fn(base, turns))
    print(json.dumps({"cpu": _cpu() - c0, "wall": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()
