"""Every code block of the README and the docs runs as shown, as a file, nothing injected.

Each page's blocks run in order in one fresh directory (a block titled ``title="x.py"``
is saved under that name, so a later block can use it, as a reader would). Python
blocks run with ``OPENAI_BASE_URL`` and ``ANTHROPIC_BASE_URL`` pointing at the built-in
local server's scripted model, with a stand-in key; bash blocks run with ``bash -e``.
A block's ``# >`` lines are what it must print, exactly (the form ``ruff format``
gives a comment, so the blocks stay formatted as code). The install commands are the
one exception: ``.ci/run`` runs them itself, first.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from tinyagent.testing import local_model

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.S | re.M)


@attrs.frozen
class Block:
    lang: str
    title: str | None
    code: str
    line: int

    @property
    def expected(self) -> list[str] | None:
        marked = [ln for ln in self.code.splitlines() if ln.startswith("# >")]
        lines = [ln[4:] if ln.startswith("# > ") else "" for ln in marked]
        return lines or None


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    found = []
    for m in FENCE.finditer(text):
        title = re.search(r'title="([^"]+)"', m.group(2))
        line = text.count("\n", 0, m.start()) + 1
        found.append(Block(m.group(1), title.group(1) if title else None, m.group(3), line))
    return found


def runnable(block: Block) -> bool:
    if block.lang == "python":
        return True
    return block.lang == "bash" and "pip install" not in block.code


def environment() -> dict[str, str]:
    base = local_model().base_url
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_BASE_URL")) and not k.startswith("TINYAGENT_")
    }
    bin_dir = str(Path(sys.executable).parent)
    return {
        **env,
        "PATH": bin_dir + os.pathsep + env.get("PATH", ""),
        "NO_COLOR": "1",
        "OPENAI_API_KEY": "sk-docs-example",
        "OPENAI_BASE_URL": base,
        "ANTHROPIC_API_KEY": "sk-ant-docs-example",
        "ANTHROPIC_BASE_URL": base.removesuffix("/v1"),
    }


def run(block: Block, page: Path, cwd: Path, env: dict[str, str]) -> None:
    where = f"{page.relative_to(ROOT)}:{block.line}"
    name = block.title or f"block_{block.line}.{'py' if block.lang == 'python' else 'sh'}"
    (cwd / name).write_text(block.code)
    command = [sys.executable, name] if block.lang == "python" else ["bash", "-e", name]
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, f"{where} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    if block.expected is not None:
        assert done.stdout.splitlines() == block.expected, f"{where} printed:\n{done.stdout}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_block_of_the_page_runs_as_a_file(page: Path, tmp_path: Path) -> None:
    env = environment()
    for block in blocks(page):
        if runnable(block):
            run(block, page, tmp_path, env)


def test_the_pages_have_blocks_and_every_python_block_is_run() -> None:
    every = [b for page in PAGES for b in blocks(page)]
    python = [b for b in every if b.lang == "python"]
    assert len(python) >= 30
    assert all(runnable(b) for b in python)
    skipped = [b for b in every if not runnable(b)]
    assert all("pip install" in b.code for b in skipped), skipped
