"""The account: caps checked, worst cases priced, reservations that hold under
concurrency (a hypothesis property on trio and asyncio), refusals that say why."""

from __future__ import annotations

import pickle
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyagent.budget import (
    Budget,
    BudgetError,
    BudgetExceeded,
    Spend,
    ambient_budgets,
    charging,
    prompt_tokens,
)
from tinyagent.messages import (
    Context,
    CostTier,
    ImageContent,
    Model,
    ModelCost,
    TextContent,
    Usage,
    UserMessage,
)

MODEL = Model("m", "http://127.0.0.1:9/v1", max_tokens=1000, cost=ModelCost(input=1.0, output=2.0))
BARE = Model("bare", "http://127.0.0.1:9/v1")


def test_a_budget_needs_a_cap_and_sane_numbers() -> None:
    with pytest.raises(ValueError, match="needs a cap"):
        Budget()
    with pytest.raises(ValueError, match="max_cost must be a finite number >= 0"):
        Budget(max_cost=-1)
    with pytest.raises(ValueError, match="finite"):
        Budget(max_cost=float("nan"))
    with pytest.raises(TypeError, match="max_requests must be a whole number"):
        Budget(max_requests=2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="max_cost must be a number"):
        Budget(max_cost=True)
    with pytest.raises(TypeError, match="prices must be a ModelCost"):
        Budget(max_cost=1, prices=[1.0, 2.0])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"prices\['m'\] must be a ModelCost"):
        Budget(max_cost=1, prices={"m": 3.0})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="unknown budget caps"):
        Budget.from_caps({"dollars": 1})


def test_a_dollar_cap_without_a_price_is_refused_not_guessed() -> None:
    b = Budget(max_cost=1.0)
    with pytest.raises(BudgetError, match="'bare' has none in the catalogue"):
        b.check(BARE, 100)
    b.check(MODEL, 100)
    Budget(max_cost=1.0, prices={"bare": ModelCost(input=1, output=1)}).check(BARE, 10)
    Budget(max_requests=3).check(BARE, None)  # no price or output bound needed


def test_a_cap_on_output_needs_a_known_maximum_output() -> None:
    with pytest.raises(BudgetError, match="no known maximum output"):
        Budget(max_total_tokens=100).check(BARE, None)
    Budget(max_total_tokens=100).check(BARE, 50)
    Budget(max_input_tokens=100).check(BARE, None)  # only the prompt is capped


def test_the_worst_case_prices_the_prompt_at_its_dearest_rate_and_the_tier() -> None:
    cost = ModelCost(
        input=1.0, output=4.0, cache_read=0.1, cache_write=1.25,
        tiers=[CostTier(200_000, input=2.0, output=8.0, cache_write=2.5)],
    )  # fmt: skip
    b = Budget(max_cost=100, prices=cost)
    small = b.worst_case(MODEL, 1_000_000 // 10, 1000)
    assert small == Spend(
        cost=(100_000 * 1.25 + 1000 * 4.0) / 1e6, input=100_000, output=1000, requests=1
    )
    big = b.worst_case(MODEL, 300_000, 1000)
    assert big.cost == pytest.approx((300_000 * 2.5 + 1000 * 8.0) / 1e6)
    # No max_tokens: the model's maximum output is the worst case.
    assert b.worst_case(MODEL, 0, None).output == 1000


def test_spend_prices_usage_with_given_prices_first() -> None:
    usage = Usage(input=1000, output=500, cache_read=200)
    own = Budget(max_cost=1).spend_of(MODEL, usage)
    assert own == Spend(cost=(1000 * 1.0 + 500 * 2.0) / 1e6, input=1200, output=500, requests=1)
    given = Budget(max_cost=1, prices=ModelCost(input=10, output=10, cache_read=1))
    assert given.spend_of(MODEL, usage).cost == pytest.approx((1000 * 10 + 500 * 10 + 200) / 1e6)
    assert Budget(max_cost=1).spend_of(MODEL, None, sent=False) == Spend()


def test_the_refusal_says_what_and_pickles_whole() -> None:
    async def main() -> BudgetExceeded:
        b = Budget(max_total_tokens=1500)
        hold = await b.reserve(MODEL, 100, 900)
        hold.settle(Usage(input=100, output=900))
        with pytest.raises(BudgetExceeded) as info:
            await b.reserve(MODEL, 100, 900)
        assert b.stopped is info.value
        return info.value

    exc = anyio.run(main)
    assert str(exc) == (
        "budget: the next call (worst case 1,000 tokens) does not fit the max_total_tokens "
        "cap: 1,000 tokens of 1,500 tokens spent"
    )
    assert exc.limit == "total" and exc.cap == 1500
    assert exc.failure.kind == "budget"
    again = pickle.loads(pickle.dumps(exc))
    assert (again.limit, again.cap, again.spent, again.needed, str(again)) == (
        exc.limit, exc.cap, exc.spent, exc.needed, str(exc),
    )  # fmt: skip


@pytest.mark.anyio
async def test_a_call_that_fits_once_others_settle_waits_for_them() -> None:
    b = Budget(max_total_tokens=1000)
    first = await b.reserve(MODEL, 100, 500)  # 600 reserved
    order: list[str] = []

    async def second() -> None:
        hold = await b.reserve(MODEL, 100, 500)  # fits only once the first settles small
        order.append("second reserved")
        hold.settle(Usage(input=100, output=10))

    async with anyio.create_task_group() as tg:
        tg.start_soon(second)
        await anyio.wait_all_tasks_blocked()
        assert order == [] and b.in_flight == 1
        order.append("first settles")
        first.settle(Usage(input=100, output=50))
    assert order == ["first settles", "second reserved"]
    assert b.spent == Spend((200 * 1.0 + 60 * 2.0) / 1e6, 200, 60, 2)
    assert b.reserved == Spend() and b.in_flight == 0


@pytest.mark.anyio
async def test_charging_nests_innermost_first_and_ends_with_its_block() -> None:
    outer, inner = Budget(max_requests=5), Budget(max_requests=1)
    with charging(outer):
        with charging(inner, None, outer):
            assert ambient_budgets() == (inner, outer)
        assert ambient_budgets() == (outer,)
    assert ambient_budgets() == ()


def test_the_prompt_estimate_errs_high_and_counts_images() -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 100  # ~1,000 real tokens
    one = prompt_tokens(Context("be brief", (UserMessage(text),)))
    assert one >= len(text) / 3
    image = ImageContent(data="aGk=", mime_type="image/png")
    two = prompt_tokens(Context("be brief", (UserMessage((TextContent(text), image)),)))
    assert two == one + 2500
    assert prompt_tokens(Context("", (UserMessage("\ud800 lone"),))) > 0  # no crash


# --- the property -----------------------------------------------------------------

calls = st.lists(
    st.tuples(
        st.integers(0, 400),  # prompt tokens
        st.integers(0, 400),  # max output
        st.floats(0, 1),  # the share of the worst case really used
        st.sampled_from(["ok", "failed", "aborted", "cancelled"]),
        st.integers(0, 3),  # checkpoints the call takes
    ),
    min_size=1,
    max_size=40,
)
caps = st.fixed_dictionaries(
    {},
    optional={
        "max_cost": st.floats(0, 0.01),
        "max_total_tokens": st.integers(0, 5000),
        "max_output_tokens": st.integers(0, 3000),
        "max_requests": st.integers(0, 30),
    },
).filter(bool)


def _check(b: Budget) -> None:
    assert b.over(b.spent + b.reserved) is None, (b.spent, b.reserved)


async def _drive(b: Budget, plan: list[Any], concurrency: int) -> list[tuple[Spend, Spend]]:
    refusals: list[tuple[Spend, Spend]] = []
    limit = anyio.Semaphore(concurrency)

    async def one(prompt: int, out: int, share: float, how: str, steps: int) -> None:
        async with limit:
            with anyio.CancelScope() as scope:
                try:
                    hold = await b.reserve(MODEL, prompt, out)
                except BudgetExceeded as exc:
                    refusals.append((b.spent, exc.needed))
                    return
                _check(b)
                try:
                    for _ in range(steps):
                        await anyio.lowlevel.checkpoint()
                        if how == "cancelled":
                            scope.cancel()
                    used = Usage(input=prompt, output=int(out * share))
                    hold.settle(used if how in ("ok", "aborted") else None)
                finally:
                    hold.settle(None)  # a cancelled call is released (a second settle: no-op)
                _check(b)

    async with anyio.create_task_group() as tg:
        for call in plan:
            tg.start_soon(one, *call)
    return refusals


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
@given(caps=caps, plan=calls, concurrency=st.integers(1, 12))
def test_reserved_and_spent_never_pass_a_cap(
    backend: str, caps: dict[str, Any], plan: list[Any], concurrency: int
) -> None:
    b = Budget(**caps)
    refusals = anyio.run(_drive, b, plan, concurrency, backend=backend)
    _check(b)
    # Everything reserved was settled or released.
    assert b.in_flight == 0 and b.reserved == Spend()
    assert b.spent.requests == len(plan) - len(refusals)
    # A refusal is final: what was spent then plus the call's worst case passed a cap.
    for spent, needed in refusals:
        assert b.over(spent + needed) is not None
    if refusals:
        assert b.stopped is not None


def test_a_run_s_prompt_sizes_agree_with_a_fresh_estimate() -> None:
    from tinyagent.budget import PromptSizes
    from tinyagent.messages import AssistantMessage, ToolCall, ToolDefinition, ToolResultMessage

    sizes = PromptSizes()
    tools = (ToolDefinition("add", "Add.", {"type": "object", "properties": {}}),)
    messages: list[Any] = []
    for turn in range(30):
        messages.append(UserMessage(f"turn {turn} " * turn))
        call = ToolCall(f"c{turn}", "add", {"a": turn})
        messages.append(AssistantMessage((TextContent("ok"), call), "tool_use"))
        messages.append(ToolResultMessage(f"c{turn}", "add", (TextContent(str(turn)),)))
        ctx = Context("system", tuple(messages), tools)
        assert sizes(ctx) == prompt_tokens(ctx)
    # A policy that drops the oldest messages, or a transform that replaces one.
    for ctx in (
        Context("system", tuple(messages[10:]), tools),
        Context("other", (*messages[:5], UserMessage("x" * 900), *messages[6:]), ()),
        Context("", (), ()),
    ):
        assert sizes(ctx) == prompt_tokens(ctx)


@pytest.mark.anyio
async def test_a_call_held_back_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    b = Budget(max_requests=1)
    first = await b.reserve(MODEL, 1, 1)
    caplog.set_level(logging.INFO, logger="tinyagent")
    async with anyio.create_task_group() as tg:

        async def second() -> None:
            with pytest.raises(BudgetExceeded):
                await b.reserve(MODEL, 1, 1)

        tg.start_soon(second)
        await anyio.wait_all_tasks_blocked()
        first.settle(Usage(input=1, output=1))
    text = caplog.text
    assert "budget: a call (worst case 2) is held back until the 1 in flight settle" in text
    assert "budget: the next call (worst case 1 request) does not fit the max_requests cap" in text
