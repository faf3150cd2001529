"""The account: caps, what is spent, what calls in flight have reserved.

One event loop owns a ``Budget`` (no locks: between two awaits nothing else runs), so
checking that a worst case fits and reserving it are one step, and concurrent calls
can never pass a cap together. A remote holder (the batch's Ray limiter) keeps one in
its own loop and lends it through the same two calls, ``reserve`` and ``settle``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import anyio

from .._util.log import logger
from ..messages import (
    CostTier,
    Failure,
    FailureKind,
    Model,
    ModelCost,
    Spend,
    TinyAgentError,
    Usage,
)

__all__ = ["Account", "Budget", "BudgetError", "BudgetExceeded", "Hold", "Holds", "reserve_all"]

# The caps, by the Spend field each bounds, with the name of the argument that sets it.
CAPS = {
    "cost": "max_cost",
    "input": "max_input_tokens",
    "output": "max_output_tokens",
    "total": "max_total_tokens",
    "requests": "max_requests",
}
_REL = 1e-12  # dollars are floats: sums may differ from the cap in the last bits


class BudgetError(TinyAgentError):
    """A budget that cannot be held as set: a dollar cap for a model with no known
    price, or a cap on output for a call with no known maximum output."""


class BudgetExceeded(TinyAgentError):
    """A call was not sent: its worst case (``needed``) does not fit the ``limit`` cap
    (``cap``) beside what is ``spent``. A failure of kind ``budget`` when it ends a
    reply."""

    failure = Failure(FailureKind.BUDGET, code="budget")

    def __init__(self, message: str, *, limit: str, cap: float, spent: Spend, needed: Spend):
        super().__init__(message)
        self.message = message
        self.limit = limit
        self.cap = cap
        self.spent = spent
        self.needed = needed

    def __reduce__(self) -> tuple[object, ...]:  # keyword arguments survive pickling (Ray)
        return (_refusal, (self.message, self.limit, self.cap, self.spent, self.needed))


def _refusal(message: str, limit: str, cap: float, spent: Spend, needed: Spend) -> BudgetExceeded:
    return BudgetExceeded(message, limit=limit, cap=cap, spent=spent, needed=needed)


class Hold(Protocol):
    """One call's reservation on one account."""

    def settle(self, usage: Usage | None, sent: bool = True) -> None:
        """The call ended having used ``usage`` (None: nothing known, e.g. a refused
        request); ``sent=False``: it never went out. What it did not use goes back."""
        ...


@runtime_checkable
class Account(Protocol):
    """What a call draws on: a :class:`Budget`, or a proxy of one held elsewhere."""

    async def reserve(self, model: Model, prompt_tokens: int, max_output: int | None) -> Hold:
        """Reserve the worst case of a call, waiting while calls in flight may free
        room; raises :class:`BudgetExceeded` when it cannot fit."""
        ...


def _money(x: float) -> str:
    return f"${x:.4f}" if x < 100 else f"${x:,.2f}"


def _amount(name: str, value: float) -> str:
    if name == "cost":
        return _money(value)
    n = int(value)
    unit = {"requests": "request", "input": "prompt token", "output": "output token"}
    return f"{n:,} {unit.get(name, 'token')}{'' if n == 1 else 's'}"


class Budget:
    """Caps on what calls may spend: ``Budget(max_cost=5.0)``, any of ``max_cost``
    (dollars), ``max_input_tokens`` (prompt tokens, cache reads and writes included),
    ``max_output_tokens``, ``max_total_tokens`` and ``max_requests``.

    ``prices`` prices calls instead of the catalogue: one :class:`ModelCost` for every
    model, or a mapping of model ids to them (a model the catalogue lacks needs one for
    a dollar cap: a price is never guessed). ``spent`` starts the account with what was
    spent before (a resumed batch). Pass it to ``Agent(budget=...)``,
    ``run_batch(budget=...)``, a call's ``budget=`` option, or ``with charging(b):``.
    """

    __slots__ = (
        "_caps", "_changed", "_holds", "_limits", "_prices", "_reserved", "_spent", "stopped",
    )  # fmt: skip

    def __init__(
        self,
        *,
        max_cost: float | None = None,
        max_input_tokens: int | None = None,
        max_output_tokens: int | None = None,
        max_total_tokens: int | None = None,
        max_requests: int | None = None,
        prices: ModelCost | Mapping[str, ModelCost] | None = None,
        spent: Spend | None = None,
    ) -> None:
        given = {
            "cost": max_cost,
            "input": max_input_tokens,
            "output": max_output_tokens,
            "total": max_total_tokens,
            "requests": max_requests,
        }
        caps: dict[str, float] = {}
        for field, value in given.items():
            if value is None:
                continue
            arg = CAPS[field]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{arg} must be a number, got {value!r}")
            if field != "cost" and not isinstance(value, int):
                raise TypeError(f"{arg} must be a whole number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{arg} must be a finite number >= 0, got {value!r}")
            caps[field] = value
        if not caps:
            raise ValueError(
                "a Budget needs a cap: max_cost, max_input_tokens, max_output_tokens, "
                "max_total_tokens or max_requests"
            )
        if prices is not None and not isinstance(prices, ModelCost | Mapping):
            raise TypeError(
                "prices must be a ModelCost (dollars per million tokens) or a mapping of "
                f"model ids to them, got {type(prices).__name__}"
            )
        if isinstance(prices, Mapping):
            for key, price in prices.items():
                if not isinstance(price, ModelCost):
                    raise TypeError(f"prices[{key!r}] must be a ModelCost, got {price!r}")
        self._caps = caps
        self._prices = prices
        # The hot path works on plain numbers, [cost, input, output, requests]: a call
        # reserves and settles with no record made.
        start = spent if spent is not None else Spend()
        self._spent: list[float] = [start.cost, start.input, start.output, start.requests]
        self._reserved: list[float] = [0.0, 0, 0, 0]
        # Each cap as (field, the most it lets through): dollars get slack in their last
        # bits, sums of floats being what they are.
        self._limits = tuple(
            (f, cap + (_REL * max(1.0, cap) if f == "cost" else 0)) for f, cap in caps.items()
        )
        self._holds = 0
        self._changed: anyio.Event | None = None
        self.stopped: BudgetExceeded | None = None
        """The first refusal, if a call was refused."""

    # --- what it is -------------------------------------------------------------

    @property
    def caps(self) -> Mapping[str, float]:
        """The caps set, by the :class:`Spend` field each bounds (``cost``, ``total``…)."""
        return dict(self._caps)

    @property
    def spent(self) -> Spend:
        """What settled calls spent (and what the account started with)."""
        return _as_spend(self._spent)

    @property
    def reserved(self) -> Spend:
        """The worst cases of the calls in flight."""
        return _as_spend(self._reserved)

    @property
    def in_flight(self) -> int:
        return self._holds

    def fresh(self, spent: Spend | None = None) -> Budget:
        """A new account with the same caps and prices (a run's own, a batch's)."""
        return Budget.from_caps(self._caps, prices=self._prices, spent=spent)

    @classmethod
    def from_caps(
        cls,
        caps: Mapping[str, float],
        *,
        prices: ModelCost | Mapping[str, ModelCost] | None = None,
        spent: Spend | None = None,
    ) -> Budget:
        """A budget from :attr:`caps` as data (``{"cost": 5.0, "total": 100000}``)."""
        unknown = set(caps) - CAPS.keys()
        if unknown:
            raise ValueError(f"unknown budget caps {sorted(unknown)}: known {sorted(CAPS)}")
        c = dict(caps)
        return cls(
            max_cost=c.get("cost"),
            max_input_tokens=_whole(c.get("input")),
            max_output_tokens=_whole(c.get("output")),
            max_total_tokens=_whole(c.get("total")),
            max_requests=_whole(c.get("requests")),
            prices=prices,
            spent=spent,
        )

    def describe(self) -> str:
        """``$0.4210 of $1.0000; 10,000 of 50,000 tokens``: spent of each cap."""
        return "; ".join(
            f"{_amount(f, _value(self.spent, f))} of {_amount(f, cap)}"
            for f, cap in self._caps.items()
        )

    def __repr__(self) -> str:
        caps = ", ".join(f"{CAPS[f]}={cap!r}" for f, cap in self._caps.items())
        return f"Budget({caps}; spent {self.describe()}, {self._holds} in flight)"

    # --- prices -------------------------------------------------------------------

    def prices_for(self, model: Model) -> ModelCost | None:
        """The prices a call of ``model`` is charged at: given ones first, then the
        model's own (from the catalogue)."""
        if isinstance(self._prices, ModelCost):
            return self._prices
        if self._prices is not None and model.id in self._prices:
            return self._prices[model.id]
        return model.cost

    def check(self, model: Model, max_output: int | None) -> None:
        """Raise :class:`BudgetError` now if calls of ``model`` could not be held (no
        price for a dollar cap, no maximum output for a cap that counts output)."""
        self.worst_case(model, 0, max_output)

    def check_prices(self, model: Model) -> None:
        """Raise :class:`BudgetError` now if a dollar cap has no price for ``model``
        (when each call's ``max_tokens`` is only known as it is made)."""
        self.worst_case(model, 0, 0)

    def worst_case(self, model: Model, prompt_tokens: int, max_output: int | None) -> Spend:
        """The most a call can spend: its prompt, and ``max_output`` (else the model's
        maximum output) of output, priced at the dearest prompt rate that applies."""
        return _as_spend(self._worst(model, prompt_tokens, max_output))

    def _worst(self, model: Model, prompt_tokens: int, max_output: int | None) -> list[float]:
        price = None
        if "cost" in self._caps:
            price = self.prices_for(model)
            if price is None:
                raise BudgetError(
                    f"budget: a dollar cap needs prices, and model {model.id!r} has none in "
                    "the catalogue; give them: Budget(..., prices=ModelCost(input=..., "
                    "output=...)) (dollars per million tokens)"
                )
        out = max_output if max_output is not None else model.max_tokens
        if out is None:
            if {"cost", "output", "total"} & self._caps.keys():
                raise BudgetError(
                    f"budget: model {model.id!r} has no known maximum output, so a call's "
                    "worst case is unknown; set max_tokens (a call option)"
                )
            out = 0
        cost = 0.0
        if price is not None:
            rates: ModelCost | CostTier = price
            for tier in price.tiers:
                if prompt_tokens >= tier.start:
                    rates = tier
            prompt_rate = max(rates.input, rates.cache_read, rates.cache_write)
            cost = (prompt_tokens * prompt_rate + out * rates.output) / 1e6
        return [cost, prompt_tokens, out, 1]

    def spend_of(self, model: Model, usage: Usage | None, sent: bool = True) -> Spend:
        """What a call that used ``usage`` spent, priced as :meth:`prices_for` says."""
        return _as_spend(self._spend(model, usage, sent))

    def _spend(self, model: Model, usage: Usage | None, sent: bool) -> list[float]:
        requests = 1 if sent else 0
        if usage is None:
            return [0.0, 0, 0, requests]
        given = self._prices is not None and (
            isinstance(self._prices, ModelCost) or model.id in self._prices
        )
        if given or usage.cost is None:
            price = self.prices_for(model)
            cost = price.price(usage).total if price is not None else 0.0
        else:
            cost = usage.cost.total
        prompt = usage.input + usage.cache_read + usage.cache_write
        return [cost, prompt, usage.output, requests]

    # --- reserve and settle ---------------------------------------------------------

    def over(self, spend: Spend) -> str | None:
        """The first cap ``spend`` passes, or None."""
        return self._over(spend.cost, spend.input, spend.output, spend.requests)

    def _over(self, cost: float, input: float, output: float, requests: float) -> str | None:
        for field, limit in self._limits:
            if field == "cost":
                value = cost
            elif field == "total":
                value = input + output
            elif field == "input":
                value = input
            elif field == "output":
                value = output
            else:
                value = requests
            if value > limit:
                return field
        return None

    async def reserve(self, model: Model, prompt_tokens: int, max_output: int | None) -> BudgetHold:
        need = self._worst(model, prompt_tokens, max_output)
        nc, ni, no, nr = need
        s, r = self._spent, self._reserved
        held_back = False
        while True:
            limit = self._over(s[0] + nc, s[1] + ni, s[2] + no, s[3] + nr)
            if limit is not None:
                raise self._refuse(limit, need)
            if (
                self._over(s[0] + r[0] + nc, s[1] + r[1] + ni, s[2] + r[2] + no, s[3] + r[3] + nr)
                is None
            ):
                break
            if not held_back:
                held_back = True
                logger.info(
                    "budget: a call (worst case %s) is held back until the %d in flight "
                    "settle: %s spent, %s reserved",
                    _amount("cost", nc) if "cost" in self._caps else ni + no,
                    self._holds,
                    self.describe(),
                    _amount("cost", r[0]),
                )
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()
        for i in range(4):
            r[i] += need[i]
        self._holds += 1
        return BudgetHold(self, model, need)

    def _refuse(self, limit: str, worst: list[float]) -> BudgetExceeded:
        cap = self._caps[limit]
        need = _as_spend(worst)
        spent = _value(self.spent, limit)
        message = (
            f"budget: the next call (worst case {_amount(limit, _value(need, limit))}) does "
            f"not fit the {CAPS[limit]} cap: {_amount(limit, spent)} of "
            f"{_amount(limit, cap)} spent"
        )
        exc = BudgetExceeded(message, limit=limit, cap=cap, spent=self.spent, needed=need)
        if self.stopped is None:
            self.stopped = exc
            logger.info("%s", message)
        return exc

    def _settle(self, need: list[float], spend: list[float]) -> None:
        self._holds -= 1
        r, s = self._reserved, self._spent
        if self._holds:
            for i in range(4):
                r[i] -= need[i]
        else:  # exact at rest: dollars summed and taken away again leave float dust
            r[:] = [0.0, 0, 0, 0]
        for i in range(4):
            s[i] += spend[i]
        if self._changed is not None:
            self._changed.set()
            self._changed = None


class BudgetHold:
    """A reservation on a :class:`Budget`; settled once (later calls do nothing)."""

    __slots__ = ("_budget", "_model", "_need")

    def __init__(self, budget: Budget, model: Model, need: list[float]) -> None:
        self._budget: Budget | None = budget
        self._model = model
        self._need = need

    @property
    def need(self) -> Spend:
        """The worst case it reserved."""
        return _as_spend(self._need)

    def settle(self, usage: Usage | None, sent: bool = True) -> None:
        budget, self._budget = self._budget, None
        if budget is not None:
            budget._settle(self._need, budget._spend(self._model, usage, sent))

    def forfeit(self) -> None:
        """Settle as if the worst case was spent: the call's end will never be known
        (the process making it died), and it may have been paid in full."""
        budget, self._budget = self._budget, None
        if budget is not None:
            budget._settle(self._need, list(self._need))


class Holds:
    """One call's reservations on each of its accounts."""

    __slots__ = ("_holds",)

    def __init__(self, holds: Sequence[Hold]) -> None:
        self._holds = list(holds)

    def settle(self, usage: Usage | None, sent: bool = True) -> None:
        holds, self._holds = self._holds, []
        for hold in holds:
            hold.settle(usage, sent)


async def reserve_all(
    accounts: Sequence[Account], model: Model, prompt_tokens: int, max_output: int | None
) -> Holds:
    """Reserve a call on every account, innermost first (a run's own, then its
    caller's…); if one refuses, those already taken go back."""
    taken: list[Hold] = []
    try:
        for account in accounts:
            taken.append(await account.reserve(model, prompt_tokens, max_output))
    except BaseException:
        for hold in taken:
            hold.settle(None, sent=False)
        raise
    return Holds(taken)


def _as_spend(v: list[float]) -> Spend:
    return Spend(float(v[0]), int(v[1]), int(v[2]), int(v[3]))


def _value(spend: Spend, field: str) -> float:
    value: float = getattr(spend, field)
    return value


def _whole(value: Any) -> Any:
    """A whole-number cap read back from data (``5.0`` is 5); anything else as it is,
    for the constructor to say what is wrong with it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
