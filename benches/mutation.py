"""Mutation scores of the sans-IO cores: how many mutants of each module its tests kill.

    pip install -e '.[bench]'      # brings mutmut
    python benches/mutation.py                      # every core below
    python benches/mutation.py tinyagent/wire/_sse.py    # one module

For each module: a throwaway copy of the committed tree (plus the built native
extension, so the parity tests run), a ``[tool.mutmut]`` section that mutates only that
module and runs only its tests, ``mutmut run``, then the count of each outcome. mutmut 3
mutates code inside functions only (module-level tables are not mutated) and runs, for
each mutant, the tests that covered the mutated function. Survivors are listed in
``<copy>/survivors-<module>.txt`` for reading (equivalent ones are noted in
benches/README.md).
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# module -> the tests that check it
CORES: dict[str, list[str]] = {
    "tinyagent/wire/_sse.py": [
        "tests/wire/test_sse.py",
        "tests/providers/test_openai_chat_parser.py",
    ],
    "tinyagent/wire/_think_tags.py": ["tests/providers/test_think_tags.py"],
    "tinyagent/wire/_pure.py": [
        "tests/transports/test_no_events.py",
        "tests/providers/test_openai_chat_parser.py",
        "tests/providers/test_bedrock_parser.py",
    ],
    "tinyagent/providers/proxy/_parser.py": [
        "tests/providers/test_proxy_parity.py",
        "tests/providers/test_proxy_parser.py",
    ],
    "tinyagent/providers/anthropic/_parser.py": [
        "tests/providers/test_anthropic_parser.py",
        "tests/providers/test_anthropic_parity.py",
        "tests/providers/test_anthropic_block_indexes.py",
    ],
    "tinyagent/providers/anthropic/_request.py": [
        "tests/providers/test_anthropic_request.py",
    ],
    "tinyagent/output/_partial_json.py": ["tests/output/test_partial_json.py"],
    "tinyagent/providers/google_gemini/_parser.py": [
        "tests/providers/test_gemini_parser.py",
        "tests/providers/test_gemini_conformance.py",
    ],
    "tinyagent/providers/google_gemini/_request.py": ["tests/providers/test_gemini_request.py"],
    "tinyagent/providers/google_gemini/_schema.py": ["tests/providers/test_gemini_request.py"],
    "tinyagent/providers/bedrock/_parser.py": [
        "tests/providers/test_bedrock_parser.py",
        "tests/providers/test_bedrock_conformance.py",
    ],
    "tinyagent/providers/bedrock/_request.py": ["tests/providers/test_bedrock_request.py"],
    "tinyagent/wire/_eventstream.py": [
        "tests/wire/test_eventstream.py",
        "tests/providers/test_bedrock_parser.py",
    ],
    "tinyagent/batch/_gate.py": ["tests/batch/test_gate.py"],
    "tinyagent/providers/openai_responses/_parser.py": [
        "tests/providers/test_openai_responses_parser.py",
        "tests/providers/test_openai_responses_parity.py",
        "tests/providers/test_conformance.py",
    ],
    "tinyagent/providers/openai_responses/_request.py": [
        "tests/providers/test_openai_responses_request.py",
    ],
    "tinyagent/providers/openai_chat/_parser.py": [
        "tests/providers/test_openai_chat_parser.py",
        "tests/transports/test_native_parity.py",
    ],
    "tinyagent/providers/openai_chat/_request.py": [
        "tests/providers/test_openai_chat_request.py",
    ],
}


def _copy_tree(dest: Path) -> None:
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    for ext in (ROOT / "tinyagent").rglob("_native*.so"):  # transports/_native (issue 19)
        shutil.copy2(ext, dest / ext.relative_to(ROOT))


def _configure(dest: Path, module: str, tests: list[str]) -> None:
    # Not the native transport's cases: mutmut forks its workers from a process that
    # already runs the Rust core's tokio threads, and a forked child that reaches the
    # native transport hangs (reported as a timeout, hiding what the other tests say).
    # The Python modules mutated here are exercised by the pure and httpx cases.
    section = f"""
[tool.mutmut]
source_paths = ["tinyagent"]
only_mutate = ["{module}"]
pytest_add_cli_args_test_selection = {tests!r}
pytest_add_cli_args = ["-p", "no:randomly", "-x", "-q", "-k", "not native"]
also_copy = ["tests", "native"]
"""
    with (dest / "pyproject.toml").open("a") as f:
        f.write(section.replace("'", '"'))


def measure(module: str, tests: list[str], keep: Path) -> collections.Counter[str]:
    dest = Path(tempfile.mkdtemp(prefix="mutation-"))
    try:
        _copy_tree(dest)
        _configure(dest, module, tests)
        env = dict(os.environ)  # the recorded streams are the repository's own (tests/conformance)
        subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", "2"],
            cwd=dest,
            env=env,
            capture_output=True,
            check=False,
        )
        results = subprocess.run(
            [sys.executable, "-m", "mutmut", "results", "--all", "true"],
            cwd=dest,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        counts: collections.Counter[str] = collections.Counter()
        survivors = []
        for line in results.splitlines():
            name, _, status = line.strip().rpartition(": ")
            if name:
                counts[status] += 1
                if status != "killed":
                    survivors.append(line.strip())
        name = module.removeprefix("tinyagent/").removesuffix(".py").replace("/", "-")
        out = keep / f"survivors-{name}.txt"
        out.write_text("\n".join(survivors) + "\n")
        return counts
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("modules", nargs="*", default=list(CORES))
    ap.add_argument("--keep", default="/tmp", help="where the survivor lists go")
    args = ap.parse_args()
    Path(args.keep).mkdir(parents=True, exist_ok=True)
    print("| module | mutants | killed | survived | no tests | timeout | score |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for module in args.modules:
        c = measure(module, CORES[module], Path(args.keep))
        total = sum(c.values())
        killed = c["killed"]
        score = f"{killed / total:.1%}" if total else "–"
        print(
            f"| `{module}` | {total} | {killed} | {c['survived']} | {c['no tests']} | "
            f"{c['timeout']} | {score} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
