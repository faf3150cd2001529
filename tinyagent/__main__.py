"""``tinyagent demo``: stream a reply to the terminal.

With ``--model`` and ``--base-url`` (and a key in ``$OPENAI_API_KEY`` or the variable
named by ``--api-key-env``) it talks to that endpoint; with neither it starts the
built-in local server, so it works on a fresh machine with no key and no network.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio

from . import _demo

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinyagent", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="stream a reply (local server unless --model/--base-url)")
    demo.add_argument("--model", help="model id, e.g. gpt-4o-mini")
    demo.add_argument("--base-url", help="API root, e.g. https://api.openai.com/v1")
    demo.add_argument("--api-key-env", default="OPENAI_API_KEY", help="variable holding the key")
    demo.add_argument("--prompt", default=None, help="what to ask")
    demo.add_argument("--backend", choices=["trio", "asyncio"], default="trio")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if (args.model is None) != (args.base_url is None):
        print("tinyagent demo: give both --model and --base-url, or neither", file=sys.stderr)
        return 2
    return anyio.run(_demo.run_demo, args, backend=args.backend)


if __name__ == "__main__":
    sys.exit(main())
