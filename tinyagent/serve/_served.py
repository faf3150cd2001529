"""What a server serves: agents (by name, each made fresh per run by its factory) and
models (relayed by the proxy protocol), and how a request names one."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..agent import Agent
from ..catalogue import as_model
from ..messages import Model
from ..wire import StreamOptions, resolve_api_key
from ._errors import ApiError

__all__ = ["AgentFactory", "ServedAgents", "ServedModels", "model_name"]

AgentFactory = Callable[[], Agent]


def model_name(model: Model) -> str:
    """A served model's name: ``provider:id``, as ``--model`` takes it."""
    return f"{model.provider_name}:{model.id}"


class ServedAgents:
    def __init__(self, agents: Mapping[str, AgentFactory | Agent]) -> None:
        self._factories: dict[str, AgentFactory] = {}
        for name, value in agents.items():
            if not name or "/" in name:
                raise ValueError(f"an agent's name must be non-empty and have no '/': {name!r}")
            if isinstance(value, Agent):
                self._factories[name] = value.clone  # one transcript per run
            elif callable(value):
                self._factories[name] = value
            else:
                raise TypeError(
                    f"agent {name!r}: expected an Agent or a callable returning one, "
                    f"got {type(value).__name__}"
                )

    def names(self) -> list[str]:
        return list(self._factories)

    def make(self, name: str) -> Agent:
        """A fresh agent for one run; an unknown name is a 404 naming the served ones."""
        factory = self._factories.get(name)
        if factory is None:
            served = ", ".join(self._factories) or "none"
            raise ApiError(
                404,
                f"no agent named {name!r} is served here (served: {served})",
                code="model_not_found",
                param="model",
            )
        agent = factory()
        if not isinstance(agent, Agent):
            raise TypeError(
                f"the factory of agent {name!r} returned {type(agent).__name__}, not an Agent"
            )
        return agent


class ServedModels:
    def __init__(self, models: Iterable[Model | str]) -> None:
        self._by_name: dict[str, Model] = {}
        for value in models:
            model = as_model(value)
            self._by_name[model_name(model)] = model

    def names(self) -> list[str]:
        return list(self._by_name)

    def secrets(self) -> list[str]:
        """The keys the served models are called with (scrubbed from every answer)."""
        out = []
        for model in self._by_name.values():
            key = resolve_api_key(model, StreamOptions())
            if key:
                out.append(key)
        return out

    def find(self, provider: str, model_id: str) -> tuple[str, Model]:
        """The served model a client names by provider and id (the id alone when the
        provider is not given and only one served model has it)."""
        if provider:
            name = f"{provider}:{model_id}"
            model = self._by_name.get(name)
            if model is not None:
                return name, model
        else:
            found = [(n, m) for n, m in self._by_name.items() if m.id == model_id]
            if len(found) == 1:
                return found[0]
        served = ", ".join(self._by_name) or "none"
        asked = f"{provider}:{model_id}" if provider else model_id
        raise ApiError(
            404,
            f"model {asked!r} is not relayed here (relayed: {served})",
            code="model_not_found",
            param="model",
        )


def as_agents(value: Any) -> ServedAgents:
    return value if isinstance(value, ServedAgents) else ServedAgents(value or {})
