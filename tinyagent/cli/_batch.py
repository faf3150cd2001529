"""``tinyagent batch run`` and ``tinyagent batch status``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .._util.groups import innermost
from ..budget import Budget
from ..messages import Model, ModelCost, TinyAgentError
from ..providers import known_apis
from ._models import LOCAL, model_for, split_name

__all__ = ["EXIT_BUDGET", "EXIT_FAILED", "add_parser", "run_command"]

EXIT_FAILED = 1  # every item ran, and some failed: their lines say why (--retry-failed)
EXIT_USAGE = 2  # a bad flag, a missing key, an input or output it cannot use
EXIT_BUDGET = 3  # stopped by its budget: the items left run on a resume with a larger cap
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM: the items left run on a resume
USER_ERRORS = (TinyAgentError, ValueError, TypeError, OSError)  # one line, EXIT_USAGE


def add_parser(sub: Any) -> None:
    batch = sub.add_parser("batch", help="run a JSONL file of prompts (or an OpenAI Batch file)")
    verbs = batch.add_subparsers(dest="verb", required=True)
    run = verbs.add_parser("run", help="run INPUT into OUTPUT; the same command again resumes")
    run.add_argument("input", help="JSON Lines: tinyagent items or OpenAI Batch requests")
    run.add_argument("-o", "--output", required=True, help="the output JSONL (also the journal)")
    run.add_argument(
        "--model",
        required=True,
        help="provider:model, e.g. openai:gpt-4o-mini (an id with --base-url)",
    )
    run.add_argument(
        "--base-url",
        default=None,
        help="override the endpoint, e.g. http://localhost:8000/v1; 'local': the built-in local server",
    )
    run.add_argument("--api", choices=known_apis(), default=None,
                     help="wire format (default: the provider's, else openai-chat)")  # fmt: skip
    run.add_argument("--api-key-env", default=None,
                     help="variable holding the key (default: the provider's)")  # fmt: skip
    run.add_argument("--format", choices=["tinyagent", "openai-batch"], default=None,
                     help="input and output format (default: read from the first line)")  # fmt: skip
    run.add_argument("--concurrency", type=int, default=64, help="items in flight at once")
    run.add_argument("--rpm", type=int, default=None, help="requests per minute, whole batch")
    run.add_argument("--tpm", type=int, default=None, help="tokens per minute, whole batch")
    run.add_argument("--adaptive", action="store_true", help="halve concurrency on 429s")
    run.add_argument("--agent", default=None, help="module:factory returning an Agent per item")
    run.add_argument("--engine", choices=["local", "ray"], default="local",
                     help="run items here, or on Ray actors (the ray extra)")  # fmt: skip
    run.add_argument("--retry-failed", action="store_true", help="run the failed ids again")
    run.add_argument("--max-attempts", type=int, default=3, help="attempts per item")
    run.add_argument("--transport", default=None, help="native, httpx+native or httpx")
    run.add_argument("--backend", choices=["trio", "asyncio"], default="trio", help="event loop")
    run.add_argument("--max-tokens", type=int, default=None, help="output tokens per call")
    cap = run.add_argument_group(
        "budget", "a cap on what the whole output may spend; a resume counts what it records"
    )
    cap.add_argument("--max-cost", type=float, default=None, metavar="DOLLARS",
                     help="dollars the whole output may spend")  # fmt: skip
    cap.add_argument("--max-tokens-total", type=int, default=None, metavar="N",
                     help="prompt and output tokens together")  # fmt: skip
    cap.add_argument("--max-requests", type=int, default=None, metavar="N",
                     help="requests the whole output may send")  # fmt: skip
    cap.add_argument("--price-in", type=float, default=None, metavar="USD_PER_MTOK",
                     help="price of prompt tokens, for a model the catalogue lacks")  # fmt: skip
    cap.add_argument("--price-out", type=float, default=None, metavar="USD_PER_MTOK",
                     help="price of output tokens")  # fmt: skip
    status = verbs.add_parser("status", help="summarise an output file, finished or running")
    status.add_argument("output", help="the output JSONL of a batch run")


def _local_reply(request: Any) -> Any:
    """The built-in server's answer (to try a batch offline): it echoes the last user
    text, in the wire format the request came in."""
    from ..testing import (
        anthropic_text_reply,
        bedrock_text_reply,
        gemini_text_reply,
        responses_text_reply,
        text_reply,
    )

    body = request.json or {}
    turns = body.get("messages") or body.get("input") or body.get("contents") or [{}]
    turn = turns[-1] if isinstance(turns[-1], dict) else {}
    last = turn.get("content", turn.get("parts"))
    if isinstance(last, list):  # content blocks or parts
        last = " ".join(str(b["text"]) for b in last if isinstance(b, dict) and "text" in b)
    text = f"(local server) you said: {last}"
    path = request.path.split("?", 1)[0]
    if path.endswith("/messages"):
        return anthropic_text_reply(text)
    if path.endswith("/responses"):
        return responses_text_reply(text)
    if path.endswith(":streamGenerateContent"):
        return gemini_text_reply(text)
    if path.endswith("/converse-stream"):
        return bedrock_text_reply(text)
    return text_reply(text)


def _budget(args: argparse.Namespace) -> Budget | None:
    """The budget the flags ask for (None: none), or ValueError saying what is wrong."""
    caps = (args.max_cost, args.max_tokens_total, args.max_requests)
    priced = (args.price_in, args.price_out)
    if all(p is None for p in priced):
        prices = None
    elif any(p is None for p in priced):
        raise ValueError("give both --price-in and --price-out (dollars per million tokens)")
    else:
        prices = ModelCost(input=args.price_in, output=args.price_out)
    if all(c is None for c in caps):
        if prices is not None:
            raise ValueError("--price-in/--price-out price a budget: add --max-cost")
        return None
    return Budget(
        max_cost=args.max_cost,
        max_total_tokens=args.max_tokens_total,
        max_requests=args.max_requests,
        prices=prices,
    )


def _model(args: argparse.Namespace) -> Model:
    """``--model`` and ``--base-url`` read as every command reads them; under
    ``--base-url local`` the model keeps its id, format and prices, and the local server
    stands in for its endpoint (filled in once the server runs)."""
    if args.base_url != LOCAL:
        return model_for(args.model, args.base_url, api=args.api, api_key_env=args.api_key_env)
    provider, model_id = split_name(args.model)
    if provider is None:
        return Model(model_id, "http://127.0.0.1:9/v1", api=args.api or "openai-chat")
    return Model.from_name(args.model, base_url="http://127.0.0.1:9/v1", api_key_env=None,
                           **({"api": args.api} if args.api else {}))  # fmt: skip


async def _run(
    args: argparse.Namespace, model: Model, options: dict[str, Any], budget: Budget | None
) -> Any:
    from ..batch import run_batch

    settings = {
        "format": args.format,
        "concurrency": args.concurrency,
        "rpm": args.rpm,
        "tpm": args.tpm,
        "adaptive": args.adaptive,
        "agent": args.agent,
        "engine": args.engine,
        "retry_failed": args.retry_failed,
        "max_attempts": args.max_attempts,
        "stream_options": options,
        "budget": budget,
    }
    if args.base_url != LOCAL:
        return await run_batch(args.input, args.output, model=model, **settings)
    from ..testing import LocalServer

    async with LocalServer(handler=_local_reply) as server:
        local = server.model(model.id, api=model.api, cost=model.cost)
        return await run_batch(args.input, args.output, model=local, **settings)


def run_command(args: argparse.Namespace) -> int:
    import anyio

    from ..batch import summary_of_file

    if args.verb == "status":
        path = Path(args.output)
        if not path.exists():
            print(f"tinyagent batch status: {path} does not exist", file=sys.stderr)
            return EXIT_USAGE
        print(summary_of_file(path).text())
        return 0
    try:
        model = _model(args)
    except (TypeError, ValueError) as exc:
        print(f"tinyagent batch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    key_env = model.api_key_env
    if args.base_url != LOCAL and model.api_key is None and key_env and not os.environ.get(key_env):
        print(
            f"tinyagent batch: no API key for {model.provider_name}: set {key_env} "
            "(or --base-url local for the built-in local server); nothing was sent",
            file=sys.stderr,
        )
        return EXIT_USAGE
    options: dict[str, Any] = {}
    if args.transport:
        options["transport"] = args.transport
    if args.max_tokens is not None:
        options["max_tokens"] = args.max_tokens
    try:
        budget = _budget(args)
        summary = anyio.run(_run, args, model, options, budget, backend=args.backend)
    except BaseException as exc:  # the user's error, also from inside the local server
        error = innermost(exc)
        if not isinstance(error, USER_ERRORS):
            raise
        print(f"tinyagent batch: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(summary.text())
    if summary.interrupted:
        return EXIT_INTERRUPTED
    if summary.stopped_by_budget:
        return EXIT_BUDGET
    return EXIT_FAILED if summary.failed else 0
