"""The providers a ``provider:model`` string can name: where each lives, which wire
format it speaks, which variable holds its key, and where its prices come from."""

from __future__ import annotations

import attrs

__all__ = ["PROVIDERS", "ProviderInfo"]


@attrs.frozen
class ProviderInfo:
    name: str
    base_url: str
    api: str = "openai-chat"
    key_env: str | None = None
    prices: str | None = None
    """The provider's id in the price snapshot (None: no prices, e.g. a local server)."""
    local: bool = False
    """A server on this machine by default (``base_url=`` points it elsewhere)."""
    base_url_env: str | None = None
    """The variable that moves the endpoint, read as the provider's own SDK reads it
    (a proxy, a gateway, a local stand-in): ``base_url=`` still wins over it."""
    base_url_suffix: str = ""
    other_key_envs: tuple[str, ...] = ()
    """Variables read for the key when ``key_env`` is not set (Gemini's SDK takes
    ``GOOGLE_API_KEY`` too)."""
    """Added to ``base_url_env``'s value: Anthropic's SDK takes the host root and adds
    ``/v1`` itself, while ours is the API root."""


PROVIDERS: dict[str, ProviderInfo] = {
    p.name: p
    for p in [
        ProviderInfo(
            "openai",
            "https://api.openai.com/v1",
            key_env="OPENAI_API_KEY",
            prices="openai",
            base_url_env="OPENAI_BASE_URL",
        ),
        ProviderInfo(
            "openai-responses",
            "https://api.openai.com/v1",
            api="openai-responses",
            key_env="OPENAI_API_KEY",
            prices="openai",
            base_url_env="OPENAI_BASE_URL",
        ),
        ProviderInfo(
            "anthropic",
            "https://api.anthropic.com/v1",
            api="anthropic-messages",
            key_env="ANTHROPIC_API_KEY",
            prices="anthropic",
            base_url_env="ANTHROPIC_BASE_URL",
            base_url_suffix="/v1",
        ),
        ProviderInfo(
            "openrouter",
            "https://openrouter.ai/api/v1",
            key_env="OPENROUTER_API_KEY",
            prices="openrouter",
        ),
        ProviderInfo(
            "groq", "https://api.groq.com/openai/v1", key_env="GROQ_API_KEY", prices="groq"
        ),
        ProviderInfo(
            "deepseek", "https://api.deepseek.com/v1", key_env="DEEPSEEK_API_KEY", prices="deepseek"
        ),
        ProviderInfo(
            "mistral", "https://api.mistral.ai/v1", key_env="MISTRAL_API_KEY", prices="mistral"
        ),
        ProviderInfo("xai", "https://api.x.ai/v1", key_env="XAI_API_KEY", prices="x-ai"),
        ProviderInfo(
            "together", "https://api.together.xyz/v1", key_env="TOGETHER_API_KEY", prices="together"
        ),
        ProviderInfo(
            "fireworks",
            "https://api.fireworks.ai/inference/v1",
            key_env="FIREWORKS_API_KEY",
            prices="fireworks",
        ),
        ProviderInfo(
            "gemini",
            "https://generativelanguage.googleapis.com/v1beta",
            api="google-gemini",
            key_env="GEMINI_API_KEY",
            prices="google",
            other_key_envs=("GOOGLE_API_KEY",),
        ),
        ProviderInfo(
            "google",
            "https://generativelanguage.googleapis.com/v1beta",
            api="google-gemini",
            key_env="GEMINI_API_KEY",
            prices="google",
            other_key_envs=("GOOGLE_API_KEY",),
        ),
        ProviderInfo(
            "bedrock",
            "https://bedrock-runtime.{region}.amazonaws.com",
            api="bedrock-converse",
            key_env="AWS_BEARER_TOKEN_BEDROCK",
            prices="aws",
        ),
        ProviderInfo("vllm", "http://localhost:8000/v1", local=True),
        ProviderInfo("llamacpp", "http://localhost:8080/v1", local=True),
        ProviderInfo("ollama", "http://localhost:11434/v1", local=True),
    ]
}
