"""The README's demo command works offline, on both event loops."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tinyagent.cli._demo import evaluate


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_demo_runs_an_agent_with_two_tools_offline(backend: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tinyagent", "demo", "--backend", backend],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "-> calculator({'expression': '(17 + 4) * 3'})" in out
    assert "<- calculator: (17 + 4) * 3 = 63" in out
    assert "<- clock: " in out and " UTC" in out
    assert "[stop; " in out


def test_demo_answers_the_prompt_it_is_given() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tinyagent", "demo", "--prompt", "what is 2+2?"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert "<- calculator: 2+2 = 4" in out and "The calculator says 2+2 = 4" in out


def test_calculator_is_arithmetic_only() -> None:
    assert evaluate("(17 + 4) * 3") == 63
    assert evaluate("-2 ** 3 + 7 // 2") == -5
    with pytest.raises(ValueError, match="not allowed"):
        evaluate("__import__('os')")


def test_tool_calls_are_coloured_on_a_terminal_and_plain_when_piped(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tinyagent import ToolCall, ToolExecutionStartEvent
    from tinyagent.cli._demo import _printer

    event = ToolExecutionStartEvent(ToolCall("c1", "calculator", {"expression": "1+1"}))
    _printer(True)(event)
    assert capsys.readouterr().out == "\x1b[36m  -> calculator({'expression': '1+1'})\x1b[0m\n"
    _printer(False)(event)
    assert capsys.readouterr().out == "  -> calculator({'expression': '1+1'})\n"
    monkeypatch.setenv("NO_COLOR", "1")
    _printer(True)(event)
    assert "\x1b[" not in capsys.readouterr().out
