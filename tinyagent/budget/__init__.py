"""Budgets: a cap on what model calls may spend — dollars, prompt, output and total
tokens, requests — that holds exactly under concurrency.

A call *reserves* its worst case before it is sent (the prompt's estimate plus its
``max_tokens``, priced with the model's prices or the ones given) and *settles* on its
real usage when it ends; what it did not use goes back. A call whose worst case can
never fit is not sent (:class:`BudgetExceeded`, a ``budget`` failure); one that would
fit once the calls in flight settle waits for them. So spent plus reserved never
passes a cap, and spending stops within one call's worst case of it.

``Budget`` is the account; ``charging(budget)`` makes every call inside draw on it
too (an agent run does this for its tools, so a sub-agent draws on its caller's budget).
It stands beside ``transports``: it imports ``messages`` and ``_util`` only.
"""

from ..messages import Spend
from ._account import Account, Budget, BudgetError, BudgetExceeded, Hold, Holds, reserve_all
from ._ambient import ambient_budgets, charging
from ._ambient import merge as merge_budgets
from ._estimate import PromptSizes, prompt_tokens

__all__ = [
    "Account",
    "Budget",
    "BudgetError",
    "BudgetExceeded",
    "Hold",
    "Holds",
    "PromptSizes",
    "Spend",
    "ambient_budgets",
    "charging",
    "merge_budgets",
    "prompt_tokens",
    "reserve_all",
]
