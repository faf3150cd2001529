"""Tokens from a variable's or a file's text: one token, or a JSON list scoped to agents
and models; each mistake said in one line that names where, never the secret."""

from __future__ import annotations

import re

import pytest

from tinyagent.serve import Token, tokens_from_text
from tinyagent.serve._config import TokenTable


def test_one_token_reaches_everything() -> None:
    (token,) = tokens_from_text("  sk-one\n", "TOKENS")
    assert token.secret == "sk-one" and token.agents is None and token.models is None
    assert token.may_use_agent("any") and token.may_use_model("x:y")
    assert "sk-one" not in repr(token)


def test_a_json_list_scopes_each_token() -> None:
    text = '[{"token": "a1", "agents": ["calc"], "name": "web"}, {"token": "b2", "models": []}]'
    web, other = tokens_from_text(text, "tokens.json")
    assert web.name == "web" and web.may_use_agent("calc") and not web.may_use_agent("x")
    assert other.name == "tokens.json[1]" and not other.may_use_model("openai:gpt-4o")
    table = TokenTable([web, other])
    assert table.find("a1") is web and table.find("b2") is other and table.find("a") is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "TOKENS is empty"),
        ("[{", "TOKENS is not a valid JSON list of tokens"),
        ('[{"agents": []}]', "TOKENS[0] must be an object with a string 'token'"),
        ('[{"token": "s3cret", "agents": "calc"}]', "TOKENS[0].agents must be a list of names"),
        (
            '[{"token": " padded "}]',
            "a token must be a non-empty string without surrounding spaces",
        ),
    ],
)
def test_mistakes_are_one_line_naming_where(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)) as caught:
        tokens_from_text(text, "TOKENS")
    assert "s3cret" not in str(caught.value) and "\n" not in str(caught.value)


def test_two_tokens_with_one_secret_are_refused() -> None:
    with pytest.raises(ValueError, match="two tokens have the same secret"):
        TokenTable([Token("same", name="a"), Token("same", name="b")])
