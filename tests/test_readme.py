"""The README's quick start runs as written (against the local server, not OpenAI)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tinyagent.testing import LocalServer, text_reply, tool_call_reply

pytestmark = pytest.mark.anyio

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def quick_start() -> str:
    block = re.search(r"## Quick start\n\n```python\n(.*?)```", README, re.S)
    assert block is not None, "the README lost its quick start"
    code = block.group(1)
    assert 'Agent("openai:gpt-4o-mini",' in code
    # Point the model at the local server, and do not start a second event loop.
    code = code.replace('Agent("openai:gpt-4o-mini",', "Agent(SERVER.model(),")
    return code.replace("trio.run(main)", "")


async def test_quick_start_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    replies = [tool_call_reply([("add", {"a": 2, "b": 40})]), text_reply("42")]
    async with LocalServer(replies) as server:
        namespace: dict[str, Any] = {"SERVER": server}
        exec(quick_start(), namespace)
        await namespace["main"]()
        tool_result = server.requests[1].json["messages"][-1]
    assert capsys.readouterr().out.strip() == "42"
    assert tool_result == {"role": "tool", "tool_call_id": "call_0", "content": "42"}


def test_the_quick_starts_model_name_is_openai() -> None:
    from tinyagent import Model

    model = Model.from_name("openai:gpt-4o-mini")
    assert model.base_url == "https://api.openai.com/v1" and model.api_key_env == "OPENAI_API_KEY"
    assert model.cost is not None
