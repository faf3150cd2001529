"""The README is a landing page whose quick start cannot fail silently: with no key it
stops in one line naming the variable; offline it prints an answer. Each block runs as
a file, nothing injected (``tests/test_docs.py`` runs every block of every page)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def quick_starts() -> list[str]:
    """The quick start's blocks: the sync script, the offline one, the async program."""
    section = README.split("## Quick start\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 3, "the README lost part of its quick start"
    return blocks


def run_file(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    """A block as a user runs it: saved as a file, run by this Python, no key set and no
    endpoint moved."""
    path = tmp_path / "quick_start.py"
    path.write_text(code)
    environ = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    return subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=60,
        env=environ, cwd=tmp_path,
    )  # fmt: skip


def test_the_quick_start_is_short_and_without_a_key_says_so_in_one_line(tmp_path: Path) -> None:
    script, _, _ = quick_starts()
    assert len([line for line in script.splitlines() if line.strip()]) <= 10
    assert '"openai:gpt-4o-mini"' in script and "OPENAI_API_KEY" in script
    done = run_file(tmp_path, script)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        "tinyagent: no API key for openai: set OPENAI_API_KEY, or pass api_key=... "
        "(to the Model or the call); nothing was sent\n"
    )


def test_the_offline_quick_start_prints_an_answer(tmp_path: Path) -> None:
    _, offline, _ = quick_starts()
    assert (
        len([line for line in offline.splitlines() if line.strip() and not line.startswith("# >")])
        <= 10
    )
    done = run_file(tmp_path, offline)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "42.0\n" and done.stderr == ""


def test_the_async_quick_start_raises_a_typed_error_without_a_key(tmp_path: Path) -> None:
    _, _, program = quick_starts()
    done = run_file(tmp_path, program)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("tinyagent.messages._errors.ReplyError: no API key for openai")


def test_the_quick_starts_model_name_is_openai() -> None:
    from tinyagent import Model

    model = Model.from_name("openai:gpt-4o-mini")
    assert model.api_key_env == "OPENAI_API_KEY" and model.cost is not None


def test_openai_base_url_moves_the_endpoint_as_the_openai_sdk_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tinyagent import Model

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    assert Model.from_name("openai:gpt-4o-mini").base_url == "https://api.openai.com/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://gateway:4000/v1/")
    assert Model.from_name("openai:gpt-4o-mini").base_url == "http://gateway:4000/v1"
    assert Model.from_name("openai-responses:gpt-5").base_url == "http://gateway:4000/v1"
    assert Model.from_name("openai:x", base_url="http://h/v1").base_url == "http://h/v1"
    assert Model.from_name("groq:llama").base_url == "https://api.groq.com/openai/v1"
    # Anthropic's SDK takes the host root and adds /v1 itself
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://gateway:4000")
    assert Model.from_name("anthropic:claude-sonnet-4-5").base_url == "http://gateway:4000/v1"


def test_the_readme_is_a_landing_page() -> None:
    # short enough to read in two minutes, and every docs page it names exists
    assert len(README.split()) <= 900
    links = re.findall(r"\]\((docs/[^)]+)\)", README)
    assert len(links) >= 14 and all((ROOT / link).exists() for link in links)
