"""OpenAI Batch bodies, read and translated (issue 21, item 10): image parts become
images, the body's fields go where the batch's wire format takes them (or the item is
refused, naming the field), a byte order mark is not part of the first line, and a
body of the wrong shape is that line's error, said in words. On trio and asyncio."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tinyagent.batch import run_batch
from tinyagent.testing import LocalServer, anthropic_text_reply, responses_text_reply, text_reply

from .test_run_batch import rows

pytestmark = pytest.mark.anyio
IMAGE = "data:image/png;base64,aGk="


def request(custom_id: str, **body: Any) -> dict[str, Any]:
    body.setdefault("messages", [{"role": "user", "content": "hi"}])
    return {
        "custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", **body},
    }  # fmt: skip


def write(path: Path, *lines: dict[str, Any], bom: bool = False) -> Path:
    text = "".join(json.dumps(line) + "\n" for line in lines).encode()
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text)
    return path


def errors(out: Path) -> dict[str, str]:
    return {r["custom_id"]: r["error"]["message"] for r in rows(out) if r["error"] is not None}


async def test_image_parts_reach_the_provider_as_images(tmp_path: Path) -> None:
    picture = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": IMAGE, "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    inp = write(
        tmp_path / "in.jsonl", request("img", messages=[{"role": "user", "content": picture}])
    )
    async with LocalServer(handler=lambda r: text_reply("a cat")) as server:
        await run_batch(inp, tmp_path / "chat.jsonl", model=server.model(), progress=False)
        (content,) = [m["content"] for m in server.requests[0].json["messages"]]
    assert [p["type"] for p in content] == ["text", "image_url", "image_url"]
    assert content[1]["image_url"]["url"] == IMAGE
    assert content[2]["image_url"]["url"] == "https://example.com/cat.png"
    async with LocalServer(handler=lambda r: anthropic_text_reply("a cat")) as server:
        model = server.model(api="anthropic-messages")
        await run_batch(inp, tmp_path / "anthropic.jsonl", model=model, progress=False)
        (message,) = server.requests[0].json["messages"]
    image = message["content"][1]
    assert image["type"] == "image" and image["source"]["data"] == "aGk="
    assert image["source"]["media_type"] == "image/png"


async def test_a_part_with_no_equivalent_is_the_line_s_error(tmp_path: Path) -> None:
    audio = [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]
    inp = write(
        tmp_path / "in.jsonl",
        request("audio", messages=[{"role": "user", "content": audio}]),
        request("ok"),
    )
    async with LocalServer(handler=lambda r: text_reply("fine")) as server:
        summary = await run_batch(inp, tmp_path / "out.jsonl", model=server.model(), progress=False)
    assert summary.succeeded == 1 and len(server.requests) == 1
    assert (
        "a content part of type 'input_audio' cannot be sent here"
        in errors(tmp_path / "out.jsonl")["audio"]
    )


async def test_fields_are_translated_for_anthropic_or_refused_by_name(tmp_path: Path) -> None:
    inp = write(
        tmp_path / "in.jsonl",
        request("stop", stop="END", user="u-1", top_p=0.5, max_tokens=99, temperature=0.1),
        request("stops", stop=["A", "B"]),
        request("seed", seed=7),
        request("json", response_format={"type": "json_object"}),
    )
    async with LocalServer(handler=lambda r: anthropic_text_reply("ok")) as server:
        model = server.model(api="anthropic-messages")
        summary = await run_batch(inp, tmp_path / "out.jsonl", model=model, progress=False)
        sent = {json.dumps(r.json["stop_sequences"]): r.json for r in server.requests}
    assert summary.succeeded == 2 and summary.failed == 2
    first = sent['["END"]']
    assert first["metadata"] == {"user_id": "u-1"} and first["top_p"] == 0.5
    assert first["max_tokens"] == 99 and first["temperature"] == 0.1
    assert "stop" not in first and "user" not in first and "seed" not in first
    assert '["A", "B"]' in sent
    why = errors(tmp_path / "out.jsonl")
    assert why["seed"] == (
        "item 'seed' could not run: body.seed has no equivalent in anthropic-messages; "
        "remove it, or run the batch on --api openai-chat"
    )
    assert "body.response_format {'type': 'json_object'} has no equivalent here" in why["json"]


async def test_the_same_fields_go_as_they_are_on_chat_and_renamed_on_responses(
    tmp_path: Path,
) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
    inp = write(tmp_path / "in.jsonl", request("a", seed=7, stop="END", response_format=fmt))
    async with LocalServer(handler=lambda r: text_reply("{}")) as server:
        await run_batch(inp, tmp_path / "chat.jsonl", model=server.model(), progress=False)
        body = server.requests[0].json
    assert body["seed"] == 7 and body["stop"] == "END" and body["response_format"] == fmt
    inp = write(tmp_path / "in2.jsonl", request("b", user="u-1", response_format=fmt))
    async with LocalServer(handler=lambda r: responses_text_reply("{}")) as server:
        model = server.model(api="openai-responses")
        summary = await run_batch(inp, tmp_path / "responses.jsonl", model=model, progress=False)
        body = server.requests[0].json
    assert summary.succeeded == 1
    assert body["user"] == "u-1" and body["text"]["format"]["schema"] == schema


async def test_a_byte_order_mark_is_not_part_of_the_first_line(tmp_path: Path) -> None:
    inp = write(tmp_path / "in.jsonl", request("a"), request("b"), bom=True)
    async with LocalServer(handler=lambda r: text_reply("ok")) as server:
        summary = await run_batch(inp, tmp_path / "out.jsonl", model=server.model(), progress=False)
    assert summary.succeeded == 2
    assert {r["custom_id"] for r in rows(tmp_path / "out.jsonl")} == {"a", "b"}  # its format


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"messages": "hello"}, "body.messages must be a list, got str 'hello'"),
        ({"tools": [{"type": "function", "function": "f"}]}, "body.tools: a tool is"),
        ({"tools": {"f": 1}}, "body.tools must be a list, got dict"),
        (
            {"messages": [{"role": "assistant", "tool_calls": [{"function": "f"}]}]},
            "a tool call is {'id', 'function': {'name', 'arguments'}}",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            "needs image_url.url",
        ),
        ({"messages": [{"role": "user", "content": 5}]}, "content must be a list, got int"),
    ],
)
async def test_a_body_of_the_wrong_shape_says_what_is_wrong(
    tmp_path: Path, body: dict[str, Any], said: str
) -> None:
    inp = write(tmp_path / "in.jsonl", request("bad", **body), request("good"))
    async with LocalServer(handler=lambda r: text_reply("ok")) as server:
        summary = await run_batch(inp, tmp_path / "out.jsonl", model=server.model(), progress=False)
    assert summary.succeeded == 1 and summary.failed == 1
    message = errors(tmp_path / "out.jsonl")["bad"]
    assert said in message and "Error" not in message  # words, not a Python exception name
