"""``provider:model`` names: the provider's endpoint and wire format, the catalogue's
prices and context windows, a string accepted wherever a Model is, clear errors."""

from __future__ import annotations

import datetime as dt

import pytest

import tinyagent
from tinyagent import Agent, CostTier, Model, ModelCost, TurnSettings, Usage
from tinyagent.catalogue import PROVIDERS, lookup, prices_date, prices_source
from tinyagent.testing import LocalServer, text_reply


def test_each_provider_gives_its_endpoint_format_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    expected = {
        "openai": ("https://api.openai.com/v1", "openai-chat", "OPENAI_API_KEY"),
        "openai-responses": ("https://api.openai.com/v1", "openai-responses", "OPENAI_API_KEY"),
        "anthropic": ("https://api.anthropic.com/v1", "anthropic-messages", "ANTHROPIC_API_KEY"),
        "openrouter": ("https://openrouter.ai/api/v1", "openai-chat", "OPENROUTER_API_KEY"),
        "groq": ("https://api.groq.com/openai/v1", "openai-chat", "GROQ_API_KEY"),
        "deepseek": ("https://api.deepseek.com/v1", "openai-chat", "DEEPSEEK_API_KEY"),
        "mistral": ("https://api.mistral.ai/v1", "openai-chat", "MISTRAL_API_KEY"),
        "xai": ("https://api.x.ai/v1", "openai-chat", "XAI_API_KEY"),
        "together": ("https://api.together.xyz/v1", "openai-chat", "TOGETHER_API_KEY"),
        "fireworks": ("https://api.fireworks.ai/inference/v1", "openai-chat", "FIREWORKS_API_KEY"),
        "gemini": (
            "https://generativelanguage.googleapis.com/v1beta",
            "google-gemini",
            "GEMINI_API_KEY",
        ),
        "google": (
            "https://generativelanguage.googleapis.com/v1beta",
            "google-gemini",
            "GEMINI_API_KEY",
        ),
        "bedrock": (
            "https://bedrock-runtime.us-east-1.amazonaws.com",
            "bedrock-converse",
            "AWS_BEARER_TOKEN_BEDROCK",
        ),
        "vllm": ("http://localhost:8000/v1", "openai-chat", None),
        "llamacpp": ("http://localhost:8080/v1", "openai-chat", None),
        "ollama": ("http://localhost:11434/v1", "openai-chat", None),
    }
    assert set(PROVIDERS) == set(expected)
    for name, (url, api, key) in expected.items():
        m = Model.from_name(f"{name}:some-model")
        assert (m.base_url, m.api, m.api_key_env, m.provider) == (url, api, key, name)


def test_known_models_get_prices_and_context_windows() -> None:
    m = Model.from_name("openai:gpt-4o-mini")
    assert m.id == "gpt-4o-mini" and m.context_window == 128_000
    assert m.cost == ModelCost(0.15, 0.6, 0.075, 0.0)
    dated = Model.from_name("openai:gpt-4o-mini-2024-07-18")  # matched as the catalogue does
    assert dated.id == "gpt-4o-mini-2024-07-18" and dated.cost == m.cost
    claude = Model.from_name("anthropic:claude-sonnet-4-5")
    assert claude.cost is not None and claude.cost.input == 3.0 and claude.cost.output == 15.0
    assert lookup("anthropic", "claude-sonnet-4-5") is not None


def test_a_long_prompt_pays_its_tier() -> None:
    cost = ModelCost(3.0, 15.0, 0.3, 3.75, tiers=[CostTier(200_000, 6.0, 22.5, 0.6, 7.5)])
    short = cost.price(Usage(100_000, 1_000))
    long = cost.price(Usage(150_000, 1_000, cache_read=60_000))
    assert short.total == pytest.approx(0.3 + 0.015)
    assert long.total == pytest.approx(0.9 + 0.0225 + 0.036)


def test_an_unlisted_model_works_with_no_price() -> None:
    m = Model.from_name("openai:not-a-real-model-xyz")
    assert m.cost is None and m.context_window is None and m.id == "not-a-real-model-xyz"
    local = Model.from_name("vllm:Qwen/Qwen3-8B", base_url="http://gpu:8000/v1")
    assert local.base_url == "http://gpu:8000/v1" and local.cost is None


def test_clear_errors_name_what_is_known() -> None:
    with pytest.raises(ValueError, match=r"unknown provider 'nope'.*known providers are openai"):
        Model.from_name("nope:x")
    with pytest.raises(ValueError, match="a model name is 'provider:model'"):
        Model.from_name("gpt-4o")
    with pytest.raises(TypeError, match="a model is a Model or a 'provider:model' name"):
        Agent(42)  # type: ignore[arg-type]


def test_the_snapshot_says_where_and_when() -> None:
    assert prices_source().startswith("genai-prices ")
    dt.date.fromisoformat(prices_date())


def test_a_string_is_taken_wherever_a_model_is() -> None:
    agent = Agent("anthropic:claude-sonnet-4-5")
    assert agent.model == Model.from_name("anthropic:claude-sonnet-4-5")
    agent.set_model("openai-responses:gpt-5")
    assert agent.model is not None and agent.model.api == "openai-responses"
    assert TurnSettings(model="groq:llama-3.1-8b-instant").model == Model.from_name(
        "groq:llama-3.1-8b-instant"
    )


@pytest.mark.anyio
async def test_usage_is_priced_from_the_catalogue(transport: str) -> None:
    reply = text_reply("hi", usage={"prompt_tokens": 1000, "completion_tokens": 200})
    async with LocalServer([reply]) as server:
        model = Model.from_name("openai:gpt-4o-mini", base_url=server.base_url, api_key="sk-test")
        agent = Agent(model, stream_options={"transport": transport})
        await agent.prompt("hello")
    cost = agent.usage.cost
    assert cost is not None
    assert cost.total == pytest.approx(1000 * 0.15 / 1e6 + 200 * 0.6 / 1e6)
    assert tinyagent.catalogue.lookup("openai", "gpt-4o-mini") is not None
