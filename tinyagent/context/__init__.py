"""Context windows: token estimates, and policies that keep a conversation inside one.

``Agent(..., context_policy=DropOldest())`` sends the newest messages that fit (three
quarters of the model's ``context_window`` by default) and, when a call still fails with
``context_overflow``, sends half as much and retries once; :class:`Summarize` replaces
what is left out with a summary. Only what is sent changes, never the transcript.

It imports ``call`` (a summarising policy makes a model call), ``messages`` and
``_util``; the agent imports it.
"""

from ._estimate import TokenEstimator, estimate_tokens
from ._policy import ContextPolicy, DropOldest, Summarize, cut_points

__all__ = [
    "ContextPolicy",
    "DropOldest",
    "Summarize",
    "TokenEstimator",
    "cut_points",
    "estimate_tokens",
]
