"""The ``tinyagent`` command: ``tinyagent demo`` (one agent run, offline by default),
``tinyagent chat`` (a terminal chat) and ``tinyagent batch`` (scripted batch runs).

The top room: it may import any room; none imports it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio

from . import _batch, _chat, _demo

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinyagent", description="tinyagent from the terminal.")
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="stream a reply (local server unless --model/--base-url)")
    demo.add_argument("--model", help="model id, e.g. gpt-4o-mini")
    demo.add_argument("--base-url", help="API root, e.g. https://api.openai.com/v1")
    demo.add_argument("--api-key-env", default="OPENAI_API_KEY", help="variable holding the key")
    demo.add_argument("--prompt", default=None, help="what to ask")
    demo.add_argument("--backend", choices=["trio", "asyncio"], default="trio")
    _chat.add_parser(sub)
    _batch.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "batch":
        return _batch.run_command(args)
    if args.command == "chat":
        return anyio.run(_chat.run_chat, args, backend=args.backend)
    if (args.model is None) != (args.base_url is None):
        print("tinyagent demo: give both --model and --base-url, or neither", file=sys.stderr)
        return 2
    return anyio.run(_demo.run_demo, args, backend=args.backend)
