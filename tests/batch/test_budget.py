"""A batch under a budget: the output's cost never passes the cap, spending stops
within one item's worst case of it, and a resume counts what the output records (the
same cap sends nothing; a larger one goes on). On trio and asyncio, 2,000 items at
concurrency 200 against a server that reports usage and honours ``max_tokens``."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from tinyagent import Agent
from tinyagent.batch import run_batch, summary_of_file
from tinyagent.budget import Budget, BudgetError, prompt_tokens
from tinyagent.cli import main
from tinyagent.messages import Context, ModelCost, UserMessage
from tinyagent.testing import LocalServer, RecordedRequest, Reply, text_reply, tool_call_reply

from ..agent_helpers import add_tool
from .test_run_batch import ours, rows

pytestmark = pytest.mark.anyio
PRICES = ModelCost(input=3.0, output=15.0)
MAX_TOKENS = 40


def metered(request: RecordedRequest) -> Reply:
    """Usage as a real server reports it: the prompt's tokens (fewer than the client's
    estimate, which errs high) and an output of at most ``max_tokens``."""
    body = request.json
    prompt = body["messages"][-1]["content"]
    output = min(body.get("max_tokens") or 10_000, 5 + zlib.crc32(prompt.encode()) % 40)
    usage = {"prompt_tokens": 3 + len(prompt) // 4, "completion_tokens": output}
    usage["total_tokens"] = usage["prompt_tokens"] + output
    return text_reply("ok " * output, usage=usage)


def worst_case(budget: Budget, model: Any, n: int) -> tuple[float, int]:
    """The largest worst case of the first ``n`` items, in dollars and in tokens."""
    cases = [
        budget.worst_case(model, prompt_tokens(Context("", (UserMessage(f"say {i}"),))), MAX_TOKENS)
        for i in range(n)
    ]
    return max(c.cost for c in cases), max(c.total for c in cases)


def sent_items(server: Any) -> set[str]:
    """The ids of the items a request was sent for (``say N`` is item ``qN``)."""
    return {"q" + r.json["messages"][-1]["content"].removeprefix("say ") for r in server.requests}


def done_ids(out: Path) -> set[str]:
    """The ids of lines that are not budget stops (those are run again on a resume, so a
    resume refused again leaves them unwritten, their spend carried in the sidecar)."""
    return {r["id"] for r in rows(out) if (r["error"] or {}).get("kind") != "budget"}


def spent(out: Path) -> tuple[float, int]:
    got = rows(out)
    return sum(r["cost"] or 0.0 for r in got), sum(r["usage"]["total"] for r in got)


async def test_a_dollar_cap_holds_for_2000_items_at_concurrency_200(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(2000))
    options = {"max_tokens": MAX_TOKENS}
    async with LocalServer(handler=metered) as server:
        model = server.model(cost=PRICES)
        cap = 0.25
        one, _ = worst_case(Budget(max_cost=cap), model, 2000)
        first = await run_batch(
            inp, out, model=model, concurrency=200, stream_options=options, progress=False,
            budget=Budget(max_cost=cap),
        )  # fmt: skip
        cost, _ = spent(out)
        assert first.stopped_by_budget and not first.interrupted
        assert cost <= cap + 1e-9  # never overspent
        assert cap - cost < one  # and stopped within one item's worst case of the cap
        written = len(rows(out))
        assert 0 < written < 2000 and first.left == 2000 - written
        assert sent_items(server) <= {r["id"] for r in rows(out)}  # a refused item: never sent
        sent, kept = len(server.requests), done_ids(out)
        assert first.budget is not None and first.budget.endswith(f"of ${cap:.4f} spent")

        # The same cap again: the output already spent it; nothing is sent.
        again = await run_batch(
            inp, out, model=model, concurrency=200, stream_options=options, progress=False,
            budget=Budget(max_cost=cap),
        )  # fmt: skip
        assert again.stopped_by_budget and len(server.requests) == sent
        assert done_ids(out) == kept

        # Twice the cap: it goes on where it stopped, within the new cap.
        more = await run_batch(
            inp, out, model=model, concurrency=200, stream_options=options, progress=False,
            budget=Budget(max_cost=2 * cap),
        )  # fmt: skip
        cost, _ = spent(out)
        assert cost <= 2 * cap + 1e-9
        assert more.stopped_by_budget and 2 * cap - cost < one
        ids = [r["id"] for r in rows(out)]
        assert len(ids) == len(set(ids)) > written
    status = summary_of_file(out)
    assert status.stopped_by_budget and status.budget is not None
    assert f"of ${2 * cap:.4f} spent at the last run's end" in status.budget


async def test_a_token_cap_holds_the_same_way(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(2000))
    options = {"max_tokens": MAX_TOKENS}
    cap = 20_000
    async with LocalServer(handler=metered) as server:
        model = server.model()  # no prices: a token cap needs none
        _, one = worst_case(Budget(max_total_tokens=cap), model, 2000)
        first = await run_batch(
            inp, out, model=model, concurrency=200, stream_options=options, progress=False,
            budget=Budget(max_total_tokens=cap),
        )  # fmt: skip
        _, tokens = spent(out)
        assert first.stopped_by_budget and tokens <= cap and cap - tokens < one
        sent = len(server.requests)
        await run_batch(
            inp, out, model=model, concurrency=200, stream_options=options, progress=False,
            budget=Budget(max_total_tokens=cap),
        )  # fmt: skip
        assert len(server.requests) == sent
        await run_batch(
            inp, out, model=model, concurrency=200, stream_options=options, progress=False,
            budget=Budget(max_total_tokens=2 * cap),
        )  # fmt: skip
        _, tokens = spent(out)
        assert tokens <= 2 * cap and 2 * cap - tokens < one


async def test_a_dollar_cap_without_a_price_is_refused_before_anything(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(5))
    async with LocalServer(handler=metered) as server:
        with pytest.raises(BudgetError, match="has none in the catalogue"):
            await run_batch(inp, out, model=server.model(), budget=Budget(max_cost=1.0))
        assert server.requests == [] and not out.exists()
        # Prices given for the budget price the calls, and the lines record the cost.
        summary = await run_batch(
            inp, out, model=server.model(), stream_options={"max_tokens": 10}, progress=False,
            budget=Budget(max_cost=1.0, prices=PRICES),
        )  # fmt: skip
    assert summary.succeeded == 5 and not summary.stopped_by_budget
    assert all(r["cost"] > 0 and r["requests"] == 1 for r in rows(out))
    assert summary.cost == pytest.approx(sum(r["cost"] for r in rows(out)))


def looping_agent() -> Agent:
    return Agent(tools=[add_tool])


async def test_an_agent_item_stopped_part_way_is_run_again_on_resume(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(1))

    def script(request: RecordedRequest) -> Reply:
        tools_done = sum(1 for m in request.json["messages"] if m["role"] == "tool")
        if tools_done < 3:
            return tool_call_reply([("add", {"a": tools_done, "b": 1})])
        return text_reply("three sums later")

    async with LocalServer(handler=script) as server:
        model = server.model()
        first = await run_batch(
            inp, out, model=model, agent=looping_agent, progress=False,
            budget=Budget(max_requests=2),
        )  # fmt: skip
        (line,) = rows(out)
        assert first.stopped_by_budget
        assert line["error"]["kind"] == "budget" and line["requests"] == 2
        # Resumed: the stopped item runs again, and what its first try spent still
        # counts: a cap of 5 leaves room for 3 of the 4 calls it needs, and it stops
        # again; 2 + 3 + 4 fit a cap of 9.
        tight = await run_batch(
            inp, out, model=model, agent=looping_agent, progress=False,
            budget=Budget(max_requests=5),
        )  # fmt: skip
        assert tight.stopped_by_budget and rows(out)[0]["error"]["kind"] == "budget"
        done = await run_batch(
            inp, out, model=model, agent=looping_agent, progress=False,
            budget=Budget(max_requests=2 + 3 + 4),
        )  # fmt: skip
    (line,) = rows(out)
    assert done.succeeded == 1 and line["error"] is None and line["text"] == "three sums later"
    assert line["requests"] == 4 and len(server.requests) == 2 + 3 + 4
    meta = json.loads((tmp_path / "out.jsonl.meta.json").read_text())
    assert meta["carried"]["requests"] == 2 + 3  # the two stopped tries


def test_the_cli_takes_the_budget_flags_and_exits_3_when_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(50))
    argv = ["batch", "run", str(inp), "-o", str(out), "--model", "m", "--base-url", "local",
            "--max-tokens", "20", "--concurrency", "4"]  # fmt: skip
    assert main([*argv, "--max-cost", "0.01", "--price-in", "100"]) == 2
    assert "give both --price-in and --price-out" in capsys.readouterr().err
    assert main([*argv, "--price-in", "1", "--price-out", "1"]) == 2
    assert "add --max-cost" in capsys.readouterr().err
    assert main([*argv, "--max-cost", "0.01"]) == 2  # the local model has no price
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has none in the catalogue" in err
    priced = [*argv, "--max-cost", "0.01", "--price-in", "100", "--price-out", "100"]
    assert main(priced) == 3
    shown = capsys.readouterr().out
    assert "budget: $0.00" in shown and "of $0.0100 spent; stopped by its budget" in shown
    assert main(priced) == 3  # resumed, the same cap: nothing more
    assert main([*argv, "--max-requests", "1000"]) == 0  # the rest, under a request cap
    capsys.readouterr()
    assert main(["batch", "status", str(out)]) == 0
    assert "of 1,000 requests spent at the last run's end" in capsys.readouterr().out
    assert len(rows(out)) == 50


def test_the_progress_line_shows_spent_of_the_budget() -> None:
    from tinyagent.batch import BatchStats
    from tinyagent.budget import Spend

    account = Budget(max_cost=2.0, max_requests=100, spent=Spend(0.5, 10, 10, 7))
    stats = BatchStats(total=10, budget=account.describe)
    assert "budget $0.5000 of $2.0000; 7 requests of 100 requests, " in stats.line()
    assert "budget" not in BatchStats(total=10).line()
