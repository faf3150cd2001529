"""The ``tinyagent`` command: ``tinyagent demo`` (one agent run, offline by default),
``tinyagent chat`` (a terminal chat), ``tinyagent batch`` (scripted batch runs) and
``tinyagent serve`` (agents over HTTP).

The top room: it may import any room; none imports it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio

from .._util.groups import innermost
from . import _batch, _chat, _demo, _models, _serve

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinyagent", description="tinyagent from the terminal.")
    sub = p.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="stream a reply (local server unless --model/--base-url)")
    demo.add_argument(
        "--model", help="provider:model, e.g. openai:gpt-4o-mini (an id with --base-url)"
    )
    demo.add_argument(
        "--base-url",
        help="override the endpoint, e.g. http://localhost:8000/v1; 'local': the built-in server",
    )
    demo.add_argument(
        "--api-key-env", default=None, help="variable holding the key (default: the provider's)"
    )
    demo.add_argument("--prompt", default=None, help="what to ask")
    demo.add_argument("--backend", choices=["trio", "asyncio"], default="trio", help="event loop")
    _chat.add_parser(sub)
    _batch.add_parser(sub)
    _serve.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `tinyagent`: what it can do, not an error
        parser.print_help()
        return 0
    if args.command == "batch":
        return _batch.run_command(args)
    try:
        if args.command == "serve":
            return _serve.run_command(args)
        if args.command == "chat":
            return anyio.run(_chat.run_chat, args, backend=args.backend)
        if args.base_url not in (None, _models.LOCAL) and args.model is None:
            print(
                "tinyagent demo: --base-url needs --model (the model's id there)", file=sys.stderr
            )
            return 2
        return anyio.run(_demo.run_demo, args, backend=args.backend)
    except BaseException as exc:  # a user error: one line and status 2, not a traceback
        error = _user_error(exc)
        if error is None:
            raise
        print(f"tinyagent {args.command}: {error}", file=sys.stderr)
        return 2


def _user_error(exc: BaseException) -> BaseException | None:
    """``exc`` (or the error a task group wrapped it in) if it is the user's."""
    inner = innermost(exc)
    return inner if isinstance(inner, (*_batch.USER_ERRORS, *_serve.USAGE_ERRORS)) else None
