"""``tinyagent serve``: agents (and relayed models) over HTTP.

With no ``--agent`` and no ``--model`` it serves the demo agent (a calculator and a
clock) on the built-in local server, so the page at ``/`` works with no key. Exit
status: 0 after a clean shutdown (SIGTERM or SIGINT), 2 for a usage error (one line).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import ipaddress
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..agent import Agent
from ..sessions import Session, SQLiteSession
from ._models import LOCAL, model_for

__all__ = ["USAGE_ERRORS", "add_parser", "run_command"]


class ServeUsageError(ValueError):
    """A command line that cannot serve: said in one line, status 2."""


USAGE_ERRORS = (ServeUsageError,)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve agents over HTTP (OpenAI-compatible, AG-UI, the proxy protocol, a chat page)",
        description="Serve agents over HTTP. With no --agent and no --model: the demo agent "
        "on the built-in local server (no key needed).",
    )
    p.add_argument("--agent", action="append", default=[], metavar="MODULE:FACTORY",
                   help="a callable returning an Agent (or an Agent); repeatable")  # fmt: skip
    p.add_argument("--name", action="append", default=[],
                   help="the served name of the --agent at the same position (default: the "
                   "factory's attribute name)")  # fmt: skip
    p.add_argument("--model", action="append", default=[], metavar="PROVIDER:MODEL",
                   help="a model to relay by the proxy protocol; repeatable")  # fmt: skip
    p.add_argument("--base-url", help="the endpoint of --model (and the demo); 'local': the "
                   "built-in server")  # fmt: skip
    p.add_argument("--host", default="127.0.0.1",
                   help="the address to listen on (beyond loopback, a token is required)")  # fmt: skip
    p.add_argument("--port", type=int, default=8000, help="0: a free port (printed)")
    p.add_argument("--token-env", metavar="NAME",
                   help="variable holding the bearer token, or a JSON list of tokens")  # fmt: skip
    p.add_argument("--token-file", metavar="PATH", help="file holding the same")
    p.add_argument("--session-db", metavar="PATH|postgresql://...",
                   help="where conversations are kept (default: a SQLite file in "
                   "$XDG_STATE_HOME/tinyagent, or ~/.local/state/tinyagent)")  # fmt: skip
    p.add_argument("--server", choices=["hypercorn", "uvicorn"], default="hypercorn",
                   help="hypercorn runs on trio, uvicorn on asyncio")  # fmt: skip
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="an origin a browser page may call from; repeatable")  # fmt: skip
    p.add_argument("--grace", type=float, default=10.0,
                   help="seconds running streams get to finish on SIGTERM")  # fmt: skip
    p.add_argument("--max-body-bytes", type=int, default=8 * 1024 * 1024,
                   help="larger request bodies are refused (413)")  # fmt: skip
    p.add_argument("--runs-per-token", type=int, default=16,
                   help="runs at once per token, or per address without tokens (429 past it)")  # fmt: skip
    p.add_argument("--run-deadline", type=float, default=600.0, help="seconds a run may take")
    p.add_argument("--insecure-no-auth", action="store_true",
                   help="serve on a non-loopback host without tokens (anyone may spend your keys)")  # fmt: skip


def _factory(spec: str) -> tuple[str, Callable[[], Agent] | Agent]:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ServeUsageError(f"--agent {spec!r}: expected MODULE:FACTORY, e.g. myagents:support")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ServeUsageError(f"--agent {spec!r}: cannot import {module_name!r} ({exc})") from None
    value = getattr(module, attr, None)
    if value is None:
        raise ServeUsageError(f"--agent {spec!r}: {module_name!r} has no {attr!r}")
    if not isinstance(value, Agent) and not callable(value):
        raise ServeUsageError(f"--agent {spec!r}: {attr!r} is neither an Agent nor a callable")
    return attr, value


def _demo() -> Callable[[], Agent]:
    from ..testing import local_model
    from ._demo import _demo_server_reply, calculator, clock

    system = "You are a concise assistant. Use the tools for arithmetic and time."
    model = local_model("demo-model", handler=_demo_server_reply)
    return lambda: Agent(model, system, [calculator, clock])


def _tokens(args: argparse.Namespace) -> list[Any] | None:
    from ..serve import tokens_from_text

    tokens: list[Any] = []
    if args.token_env:
        value = os.environ.get(args.token_env)
        if value is None:
            raise ServeUsageError(f"--token-env {args.token_env}: the variable is not set")
        tokens += tokens_from_text(value, args.token_env)
    if args.token_file:
        try:
            text = Path(args.token_file).read_text()
        except OSError as exc:
            raise ServeUsageError(f"--token-file: cannot read it ({exc.strerror})") from None
        tokens += tokens_from_text(text, args.token_file)
    if tokens:
        return tokens
    loopback = args.host == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(args.host).is_loopback
    if not loopback and not args.insecure_no_auth:
        raise ServeUsageError(
            f"serving on {args.host} without a token lets anyone on the network run your "
            "agents with your keys: pass --token-env NAME (or --insecure-no-auth)"
        )
    return None


def _sessions(spec: str | None) -> tuple[Callable[[str], Session], str]:
    if spec and spec.startswith(("postgresql://", "postgres://")):
        from ..sessions import PostgresSession

        PostgresSession.check_url(spec)
        _reachable(PostgresSession(spec, "tinyagent-serve-check"))
        return (lambda conversation: PostgresSession(spec, conversation)), "PostgreSQL"
    if spec:
        path = Path(spec)
    else:
        state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        path = Path(state) / "tinyagent" / "sessions.db"
        path.parent.mkdir(parents=True, exist_ok=True)
    if not path.parent.is_dir():
        raise ServeUsageError(f"--session-db {spec}: its folder does not exist")
    _reachable(SQLiteSession(path, "tinyagent-serve-check"))
    return (lambda conversation: SQLiteSession(path, conversation)), str(path)


def _reachable(session: Any) -> None:
    """The conversation store answers now, or the server does not start (a wrong URL
    or file is said at once, not at the first request)."""
    import anyio

    try:
        anyio.run(session.count)
    finally:
        session.close()


def run_command(args: argparse.Namespace) -> int:
    from ..serve import Limits, app, serve_forever

    if len(args.name) > len(args.agent):
        raise ServeUsageError(
            "more --name than --agent: each --name names the --agent at its place"
        )
    agents: dict[str, Any] = {}
    for i, spec in enumerate(args.agent):
        attr, factory = _factory(spec)
        name = args.name[i] if i < len(args.name) else attr
        if name in agents:
            raise ServeUsageError(f"two agents are named {name!r}: give one a --name")
        agents[name] = factory
    base_url = None if args.base_url == LOCAL else args.base_url
    models = [model_for(name, base_url) for name in args.model]
    if not agents and not models:
        agents["demo"] = _demo()
    tokens = _tokens(args)
    sessions, where = _sessions(args.session_db)
    try:
        limits = Limits(args.max_body_bytes, args.runs_per_token, args.run_deadline, args.grace)
    except ValueError as exc:
        raise ServeUsageError(str(exc)) from None
    application = app(agents, models=models, tokens=tokens, limits=limits, sessions=sessions,
                      cors_origins=args.cors_origin)  # fmt: skip

    def ready(url: str) -> None:
        served = ", ".join(agents) or "none"
        print(f"tinyagent serve: {url} (agents: {served}; conversations: {where}; "
              f"{args.server}; Ctrl-C or SIGTERM stops)", flush=True)  # fmt: skip

    try:
        serve_forever(application, host=args.host, port=args.port, server=args.server,
                      grace=args.grace, ready=ready)  # fmt: skip
    except OSError as exc:
        raise ServeUsageError(
            f"cannot listen on {args.host}:{args.port} ({exc.strerror})"
        ) from None
    return 0
