"""What a server is told: who may call it (tokens) and how much (limits)."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

__all__ = ["Limits", "Token", "TokenTable", "tokens_from_text"]


def _names(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


@attrs.frozen
class Token:
    """A bearer token and what it may reach: ``agents`` and ``models`` by served name
    (None: all). ``name`` labels it in logs and errors; the secret never appears."""

    secret: str = attrs.field(repr=False)
    agents: frozenset[str] | None = attrs.field(default=None, converter=_names)
    models: frozenset[str] | None = attrs.field(default=None, converter=_names)
    name: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.secret or self.secret != self.secret.strip():
            raise ValueError("a token must be a non-empty string without surrounding spaces")

    def may_use_agent(self, name: str) -> bool:
        return self.agents is None or name in self.agents

    def may_use_model(self, name: str) -> bool:
        return self.models is None or name in self.models


def _positive(_inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"Limits.{attr.name} must be a number > 0, got {value!r}")
    if isinstance(value, float) and math.isnan(value):
        raise ValueError(f"Limits.{attr.name} must be a number > 0, got nan")


@attrs.frozen
class Limits:
    """What one request, one token and one run may take.

    ``max_body_bytes``: a larger request body is refused (413). ``runs_per_token``: runs
    at once per token, or per client address when the server has no tokens (429 with
    ``Retry-After``). ``run_deadline``: seconds a run may take (it then ends as a
    deadline stop). ``grace``: seconds running streams get to finish on SIGTERM.
    """

    max_body_bytes: int = attrs.field(default=8 * 1024 * 1024, validator=_positive)
    runs_per_token: int = attrs.field(default=16, validator=_positive)
    run_deadline: float = attrs.field(default=600.0, validator=_positive)
    grace: float = attrs.field(default=10.0, validator=_positive)
    retry_after: int = attrs.field(default=1, validator=_positive)


class TokenTable:
    """The tokens a server accepts; a lookup compares against every one, in constant
    time each (a digest of each side, so that lengths leak nothing either)."""

    __slots__ = ("_digests",)

    def __init__(self, tokens: Sequence[Token]) -> None:
        secrets = [t.secret for t in tokens]
        if len(set(secrets)) != len(secrets):
            raise ValueError("two tokens have the same secret")
        self._digests = [(hashlib.sha256(t.secret.encode()).digest(), t) for t in tokens]

    def __len__(self) -> int:
        return len(self._digests)

    def find(self, presented: str) -> Token | None:
        digest = hashlib.sha256(presented.encode("utf-8", "replace")).digest()
        found = None
        for known, token in self._digests:  # no early exit: every token is compared
            if hmac.compare_digest(known, digest):
                found = token
        return found


def tokens_from_text(text: str, source: str) -> list[Token]:
    """Tokens from a variable's or a file's text: one token (which may reach everything),
    or a JSON list of ``{"token": ..., "agents": [...], "models": [...], "name": ...}``.
    ``source`` names where the text came from, for the error (never the text)."""
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"{source} is empty: it must hold a token or a JSON list of tokens")
    if not stripped.startswith("["):
        return [Token(stripped, name=source)]
    try:
        items = json.loads(stripped)
    except ValueError as exc:
        raise ValueError(f"{source} is not a valid JSON list of tokens ({exc.args[0]})") from None
    tokens = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("token"), str):
            raise ValueError(f"{source}[{i}] must be an object with a string 'token'")
        for key in ("agents", "models"):
            value = item.get(key)
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(v, str) for v in value)
            ):
                raise ValueError(f"{source}[{i}].{key} must be a list of names")
        tokens.append(
            Token(
                item["token"],
                item.get("agents"),
                item.get("models"),
                str(item.get("name") or f"{source}[{i}]"),
            )
        )
    return tokens
