"""Stream rows measured interleaved, to compare paths (or two builds) on a noisy machine.

    python benches/bench_interleaved.py --paths native-parser,native --kinds text,atext --runs 4
    python benches/bench_interleaved.py --python old=/tmp/oldvenv/bin/python --python new=python3

Each measurement is one fresh client process (``bench_stream.py --one``) against one
server, the paths (and interpreters) alternating run after run; prints min and median of
the marginal CPU per chunk (10k→100k).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_stream import start_server  # noqa: E402


def one(python: str, path: str, base: str, model: str) -> float:
    out = subprocess.run(
        [python, str(HERE / "bench_stream.py"), "--one", path, base, model, "asyncio"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["cpu"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", default="pure,native-parser,native")
    ap.add_argument("--kinds", default="text,atext")
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--python", action="append", default=[], help="NAME=INTERPRETER")
    args = ap.parse_args()
    pythons = dict(p.split("=", 1) for p in args.python) or {"this": sys.executable}
    proc, base = start_server()
    results: dict[tuple[str, str, str], list[float]] = {}
    try:
        for kind in args.kinds.split(","):
            for _ in range(args.runs):
                for path in args.paths.split(","):
                    for name, python in pythons.items():
                        small = one(python, path, base, f"{kind}-10000")
                        large = one(python, path, base, f"{kind}-100000")
                        per = (large - small) / 90_000 * 1e6
                        results.setdefault((kind, path, name), []).append(per)
    finally:
        proc.terminate()
        proc.wait()
    print("| stream | path | build | min µs/chunk | median | runs |")
    print("|---|---|---|---:|---:|---|")
    for (kind, path, name), v in sorted(results.items()):
        runs = ", ".join(f"{x:.2f}" for x in v)
        print(f"| {kind} | {path} | {name} | {min(v):.2f} | {statistics.median(v):.2f} | {runs} |")


if __name__ == "__main__":
    main()
