"""What one call draws on its budgets: reserved before it is sent, settled once when
it ends — on the usage the provider reported, or, for a reply cut off before its
usage came, on what arrived (the prompt as estimated, the output by its size)."""

from __future__ import annotations

from collections.abc import Callable

from ..budget import (
    Account,
    Holds,
    PromptSizes,
    ambient_budgets,
    merge_budgets,
    prompt_tokens,
    reserve_all,
)
from ..messages import (
    AssistantMessage,
    Context,
    Model,
    StopReason,
    TextContent,
    ThinkingContent,
    ToolCall,
    Usage,
)
from ..wire import StreamOptions

__all__ = ["CallCharge", "charge_for"]

_BYTES_PER_TOKEN = 3


def _given(budget: object) -> list[Account]:
    if budget is None:
        return []
    if isinstance(budget, Account):
        return [budget]
    if isinstance(budget, list | tuple):
        out = list(budget)
        if all(isinstance(b, Account) for b in out):
            return out
    raise TypeError(f"budget must be a tinyagent.budget.Budget (or a list of them), got {budget!r}")


def charge_for(model: Model, context: Context, options: StreamOptions) -> CallCharge | None:
    """The call's charge, or None when no budget is in force (no cost at all then)."""
    ambient = ambient_budgets()
    if options.budget is None and not ambient:
        return None
    accounts = merge_budgets(_given(options.budget), ambient)
    if not accounts:
        return None
    estimate: Callable[[Context], int] = prompt_tokens
    caches = options.wire_cache
    if caches is not None:  # a run's calls: each message is estimated once, not per turn
        sizes = caches.shared.get("prompt_sizes")
        if not isinstance(sizes, PromptSizes):
            sizes = caches.shared["prompt_sizes"] = PromptSizes()
        estimate = sizes
    return CallCharge(accounts, model, context, options.max_tokens, estimate)


class CallCharge:
    __slots__ = (
        "_accounts", "_context", "_estimate", "_holds", "_max_output", "_model", "_prompt",
        "admitted",
    )  # fmt: skip

    def __init__(
        self,
        accounts: tuple[Account, ...],
        model: Model,
        context: Context,
        max_output: int | None,
        estimate: Callable[[Context], int],
    ) -> None:
        self._accounts = accounts
        self._estimate = estimate
        self._model = model
        self._context = context
        self._max_output = max_output
        self._prompt = 0
        self._holds: Holds | None = None
        self.admitted = False

    @property
    def holding(self) -> bool:
        return self._holds is not None

    async def admit(self) -> None:
        if self.admitted:
            return
        self._prompt = self._estimate(self._context)
        self._holds = await reserve_all(self._accounts, self._model, self._prompt, self._max_output)
        self.admitted = True

    def settle(self, message: AssistantMessage | None) -> None:
        holds, self._holds = self._holds, None
        if holds is not None:
            holds.settle(self._used(message))

    def _used(self, message: AssistantMessage | None) -> Usage | None:
        if message is None:
            return None
        usage = message.usage
        cut = message.stop_reason in (StopReason.ERROR, StopReason.ABORTED)
        if not cut or not message.content:
            return usage  # a whole reply's usage; a failure before any content: none
        # Cut off mid-reply: the provider charged for the prompt and what it sent.
        size = 0
        for part in message.content:
            if isinstance(part, TextContent):
                size += len(part.text.encode("utf-8", "replace"))
            elif isinstance(part, ThinkingContent):
                size += len(part.thinking.encode("utf-8", "replace"))
            elif isinstance(part, ToolCall):
                size += len((part.raw_arguments or "").encode("utf-8", "replace"))
        output = max(usage.output, -(-size // _BYTES_PER_TOKEN))
        prompt = usage.input + usage.cache_read + usage.cache_write
        if prompt > 0:
            return Usage(usage.input, output, usage.cache_read, usage.cache_write, usage.reasoning)
        return Usage(self._prompt, output)
