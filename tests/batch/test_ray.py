"""The Ray engine against a local Ray started by the test, with a real actor pool."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray

from tinyagent.batch import run_batch
from tinyagent.testing import (
    LocalServer,
    RecordedRequest,
    Reply,
    error_reply,
    text_reply,
    tool_call_reply,
)

from .test_run_batch import ours

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},  # so actors import tests.*
    )
    yield
    ray.shutdown()


def echo(request: RecordedRequest) -> Reply:
    return text_reply("answer to " + request.json["messages"][-1]["content"])


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_500_items_give_the_same_ids_as_the_local_engine(
    local_ray: None, tmp_path: Path
) -> None:
    inp = tmp_path / "in.jsonl"
    inp.write_text(ours(500))
    async with LocalServer(handler=echo) as server:
        local = await run_batch(inp, tmp_path / "local.jsonl", model=server.model(), progress=False)
        remote = await run_batch(
            inp,
            tmp_path / "ray.jsonl",
            model=server.model(),
            engine="ray",
            ray_actors=2,
            concurrency=50,
            progress=False,
        )
    assert local.succeeded == remote.succeeded == 500
    by_local = {r["id"]: r["text"] for r in rows(tmp_path / "local.jsonl")}
    by_ray = {r["id"]: r["text"] for r in rows(tmp_path / "ray.jsonl")}
    assert by_ray == by_local
    assert len(rows(tmp_path / "ray.jsonl")) == 500  # each id exactly once
    assert ray.is_initialized()  # a Ray the batch did not start is left running


async def test_items_run_in_the_actors_processes(local_ray: None, tmp_path: Path) -> None:
    inp = tmp_path / "in.jsonl"
    inp.write_text(ours(40))

    def script(request: RecordedRequest) -> Reply:
        last = request.json["messages"][-1]
        if last["role"] == "user":
            return tool_call_reply([("where", {})])
        return text_reply(last["content"])

    async with LocalServer(handler=script) as server:
        summary = await run_batch(
            inp,
            tmp_path / "out.jsonl",
            model=server.model(),
            engine="ray",
            ray_actors=2,
            agent="tests.batch.ray_agent:make_agent",
            progress=False,
        )
    assert summary.succeeded == 40
    pids = {int(r["text"]) for r in rows(tmp_path / "out.jsonl")}
    assert len(pids) == 2 and os.getpid() not in pids  # two actors, neither the driver


async def test_a_429_seen_by_one_actor_pauses_them_all(local_ray: None, tmp_path: Path) -> None:
    inp = tmp_path / "in.jsonl"
    inp.write_text(ours(40))
    arrivals: list[float] = []

    def limited(request: RecordedRequest) -> Reply:
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            return error_reply(429, "slow down", error_type="rate_limit_error").but(
                headers={"retry-after": "2"}
            )
        return echo(request).but(delay=0.05)

    async with LocalServer(handler=limited) as server:
        summary = await run_batch(
            inp,
            tmp_path / "out.jsonl",
            model=server.model(),
            engine="ray",
            ray_actors=2,
            concurrency=8,
            progress=False,
        )
    assert summary.succeeded == 40
    # Requests already on their way at the 429 arrive at once; after that, nothing from
    # either actor until the Retry-After has passed.
    pause = [round(t - arrivals[0], 2) for t in arrivals if 0.5 < t - arrivals[0] < 1.9]
    assert pause == []


async def test_a_budget_holds_across_two_actors(local_ray: None, tmp_path: Path) -> None:
    """The limiter actor holds the budget: 2,000 items at concurrency 200 on two actors
    spend no more than the cap, stop within one item's worst case of it, and a resume
    with the same cap sends nothing."""
    from tinyagent.budget import Budget

    from .test_budget import MAX_TOKENS, PRICES, done_ids, metered, spent, worst_case

    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(2000))
    cap = 0.2
    options = {"max_tokens": MAX_TOKENS}
    async with LocalServer(handler=metered) as server:
        model = server.model(cost=PRICES)
        one, _ = worst_case(Budget(max_cost=cap), model, 2000)
        for split in ("shared", "split"):  # a budget is held whole whatever the limits
            target = out.with_name(f"{split}.jsonl")
            before = len(server.requests)
            summary = await run_batch(
                inp, target, model=model, engine="ray", ray_actors=2, concurrency=200,
                ray_limits=split, stream_options=options, progress=False,  # type: ignore[arg-type]
                budget=Budget(max_cost=cap),
            )  # fmt: skip
            cost, _ = spent(target)
            assert summary.stopped_by_budget and not summary.interrupted
            assert cost <= cap + 1e-9 and cap - cost < one
            # A refused item was never sent: every request of this run has a line.
            asked = {"q" + r.json["messages"][-1]["content"][4:] for r in server.requests[before:]}
            assert asked <= {r["id"] for r in rows(target)}
            assert summary.budget is not None and summary.budget.endswith(f"of ${cap:.4f} spent")
        sent, kept = len(server.requests), done_ids(target)
        again = await run_batch(
            inp, target, model=model, engine="ray", ray_actors=2, concurrency=200,
            stream_options=options, progress=False, budget=Budget(max_cost=cap),
        )  # fmt: skip
        assert again.stopped_by_budget and done_ids(target) == kept
        assert len(server.requests) == sent  # nothing more was sent


async def test_an_actor_that_dies_fails_its_items_in_plain_words(
    local_ray: None, tmp_path: Path
) -> None:
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"id": "crash", "prompt": "die"}) + "\n")

    def script(request: RecordedRequest) -> Reply:
        return tool_call_reply([("die", {})])

    async with LocalServer(handler=script) as server:
        summary = await run_batch(
            inp, tmp_path / "out.jsonl", model=server.model(), engine="ray", ray_actors=1,
            agent="tests.batch.ray_agent:make_dying_agent", progress=False,
        )  # fmt: skip
    assert summary.failed == 1 and summary.errors == {"engine": 1}
    (row,) = rows(tmp_path / "out.jsonl")
    message = row["error"]["message"]
    assert message.startswith("the Ray actor running this item died (")
    assert "\x1b[" not in message and "pid" not in message and "/" not in message
    assert "\n" not in message and "Traceback" not in message


def test_a_dead_actor_s_open_reservations_are_forfeited_not_waited_on(local_ray: None) -> None:
    """An actor that dies mid-call never settles its reservation on the limiter: the
    pool forfeits it (counted spent at its worst case), so another actor's call that
    fits only once it settles is refused at once instead of waiting for ever."""
    from tinyagent import Model
    from tinyagent.batch._ray import RayPool
    from tinyagent.budget import Budget, BudgetExceeded, Spend

    model = Model("m", "http://127.0.0.1:9/v1")
    pool = RayPool(
        model, "tinyagent", {}, 1, None, concurrency=4, rpm=None, tpm=None, adaptive=False,
        actors=2, budget=Budget(max_requests=1),
    )  # fmt: skip
    pool.start()
    try:
        limiter = pool._limiter
        _hold, refusal = ray.get(limiter.reserve.remote(model, 10, 10, 0))  # actor 0's call
        assert refusal is None
        waiting = limiter.reserve.remote(model, 10, 10, 1)  # actor 1's: waits on it
        ready, _ = ray.wait([waiting], timeout=0.5)
        assert ready == []
        assert ray.get(limiter.forfeit.remote(0)) == 1  # actor 0 died
        _, refusal = ray.get(waiting, timeout=10)
        assert isinstance(refusal, BudgetExceeded) and refusal.limit == "requests"
        assert pool.budget_spent() == Spend(0.0, 10, 10, 1)
    finally:
        pool.stop()
