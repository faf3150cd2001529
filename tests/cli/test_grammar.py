"""One CLI grammar (issue 20, in part): a model is named provider:model in demo and
chat as in the library, a user error is one line and a documented status, bare
``tinyagent`` is help, and a batch says what it did in its exit status and summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinyagent.cli import main


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return subprocess.run(
        [sys.executable, "-m", "tinyagent", *args], capture_output=True, text=True,
        timeout=60, env=env, input=stdin,
    )  # fmt: skip


def test_bare_tinyagent_is_help() -> None:
    done = run()
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("usage: tinyagent") and "demo" in done.stdout


def test_demo_takes_a_provider_model_name_and_says_what_key_is_missing() -> None:
    done = run("demo", "--model", "openai:gpt-4o-mini")
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()
    assert last == [
        "tinyagent demo: no API key for openai: set OPENAI_API_KEY, or pass "
        "api_key=... (to the Model or the call); nothing was sent"
    ]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ("demo", "--base-url", "http://127.0.0.1:9/v1"),
            "tinyagent demo: --base-url needs --model",
        ),
        (("demo", "--model", "no-provider-here"), "tinyagent demo: "),
        (("chat", "--model", "gpt-4o-mini"), "tinyagent chat: "),
    ],
)
def test_a_user_error_is_one_line_and_status_2(args: tuple[str, ...], said: str) -> None:
    done = run(*args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(said)
    assert "Traceback" not in done.stderr


def test_a_batch_with_failed_items_exits_1_and_its_summary_says_what_it_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text('{"id": "ok", "prompt": "hi"}\n{"id": "bad", "prompt": 5}\n')
    argv = ["batch", "run", str(inp), "-o", str(out), "--model", "m", "--base-url", "local"]
    assert main(argv) == 1
    shown = capsys.readouterr().out
    assert "items: 2 (1 succeeded, 1 failed)" in shown
    assert "cost unknown (no prices)" in shown  # never "$0.0000" for want of prices
    assert f"output: {out}" in shown
    assert main(["batch", "status", str(out)]) == 0
    assert f"output: {out}" in capsys.readouterr().out


def test_every_option_of_every_command_says_what_it_is() -> None:
    import argparse

    from tinyagent.cli import _parser

    silent: list[str] = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}")
            elif not action.help:
                silent.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(_parser(), "tinyagent")
    assert silent == []


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ("batch", "run", "in.jsonl", "-o", "out.jsonl", "--model", "openai:gpt-4o-mini"),
            "tinyagent batch: no API key for openai: set OPENAI_API_KEY (or --base-url local "
            "for the built-in local server); nothing was sent\n",
        ),
        (
            ("batch", "run", "in.jsonl", "-o", "out.jsonl", "--model", "gpt-4o-mini"),
            "tinyagent batch: a model name is 'provider:model', such as 'openai:gpt-4o-mini', "
            "got 'gpt-4o-mini'; known providers: ",
        ),
        (
            ("batch", "run", "in.jsonl", "-o", "out.jsonl", "--model", "nope:x"),
            "tinyagent batch: unknown provider 'nope'",
        ),
    ],
)
def test_batch_reads_a_model_as_every_command_does(
    tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    (tmp_path / "in.jsonl").write_text('{"id": "a", "prompt": "hi"}\n')
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    done = subprocess.run(
        [sys.executable, "-m", "tinyagent", *args], capture_output=True, text=True,
        timeout=60, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(said), done.stderr
    assert not (tmp_path / "out.jsonl").exists()  # refused before anything ran


@pytest.mark.parametrize("name", ["openai:gpt-4o-mini", "anthropic:claude-sonnet-4-5", "m"])
def test_base_url_local_is_the_built_in_server_in_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text('{"id": "a", "prompt": "hi"}\n')
    argv = ["batch", "run", str(inp), "-o", str(out), "--model", name, "--base-url", "local"]
    assert main(argv) == 0
    row = json.loads(out.read_text())
    assert row["text"] == "(local server) you said: hi"
    assert row["model"] == (name.partition(":")[2] or name)  # the id, without the provider
    # the provider's prices go with it: a priced model is costed even on the local server
    assert (row["cost"] is not None) == (name != "m")
    done = run("demo", "--model", name, "--base-url", "local", "--prompt", "what is 2+2")
    assert done.returncode == 0, done.stderr
    assert "2+2 = 4" in done.stdout
    done = run("chat", "--model", name, "--base-url", "local", stdin="hello\n")
    assert done.returncode == 0, done.stderr
    assert "Chatting with the built-in local server (offline)." in done.stdout
    assert "You said: hello" in done.stdout
