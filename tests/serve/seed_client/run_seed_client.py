"""Drive the seed's own proxy client against a server, and print what it saw as JSON.

python run_seed_client.py URL TOKEN PROVIDER MODEL PROMPT [--tools] [--reasoning LEVEL]
"""

import asyncio
import json
import sys

from tinyagent import (
    AgentTool,
    Context,
    Model,
    ProxyStreamOptions,
    TextContent,
    UserMessage,
    stream_proxy,
)


async def main() -> None:
    url, token, provider, model_id, prompt = sys.argv[1:6]
    tools = None
    if "--tools" in sys.argv:
        params = {
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
        }
        tools = [AgentTool(name="add", description="Add two numbers.", parameters=params)]
    reasoning = sys.argv[sys.argv.index("--reasoning") + 1] if "--reasoning" in sys.argv else None
    context = Context(
        system_prompt="You add.",
        messages=[UserMessage(content=[TextContent(text=prompt)])],
        tools=tools,
    )
    model = Model(provider=provider, id=model_id, api="openai")
    options = ProxyStreamOptions(auth_token=token, proxy_url=url, reasoning=reasoning)
    response = await stream_proxy(model, context, options)
    events = []
    async for event in response:
        events.append({"type": event.type, "delta": event.delta, "index": event.content_index})
    final = await response.result()
    print(json.dumps({"events": events, "final": final.model_dump(exclude_none=True, mode="json")}))


asyncio.run(main())
