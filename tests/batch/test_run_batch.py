"""run_batch end to end against the local server, on trio and asyncio."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tinyagent import Agent, TinyAgentError, tool
from tinyagent.batch import run_batch, summary_of_file
from tinyagent.testing import (
    LocalServer,
    RecordedRequest,
    Reply,
    anthropic_text_reply,
    error_reply,
    text_reply,
    tool_call_reply,
)

pytestmark = pytest.mark.anyio


def ours(n: int, start: int = 0) -> str:
    return "".join(
        json.dumps({"id": f"q{i}", "prompt": f"say {i}"}) + "\n" for i in range(start, start + n)
    )


def openai_batch(n: int) -> str:
    return "".join(
        json.dumps(
            {
                "custom_id": f"request-{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": "gpt-4o-mini",
                    "messages": [
                        {"role": "system", "content": "You are terse."},
                        {"role": "user", "content": f"say {i}"},
                    ],
                    "max_tokens": 50,
                    "temperature": 0.2,
                    "seed": 7,
                },
            }
        )
        + "\n"
        for i in range(n)
    )


def echo(request: RecordedRequest) -> Reply:
    return text_reply("answer to " + request.json["messages"][-1]["content"])


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_2000_items_at_concurrency_200_in_our_format(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(2000))
    async with LocalServer(handler=echo) as server:
        summary = await run_batch(inp, out, model=server.model(), concurrency=200, progress=False)
    assert summary.succeeded == 2000 and summary.failed == 0 and not summary.interrupted
    got = rows(out)
    assert sorted(r["id"] for r in got) == sorted(f"q{i}" for i in range(2000))
    for r in got:
        assert r["error"] is None and r["text"] == "answer to say " + r["id"][1:]
        assert r["usage"]["input"] == 10 and r["attempts"] == 1 and r["duration"] >= 0
    assert summary_of_file(out).succeeded == 2000


async def test_2000_items_in_the_openai_batch_format(tmp_path: Path) -> None:
    inp, out = tmp_path / "batchinput.jsonl", tmp_path / "results.jsonl"
    inp.write_text(openai_batch(2000))
    async with LocalServer(handler=echo) as server:
        summary = await run_batch(inp, out, model=server.model(), concurrency=200, progress=False)
        sent = server.requests[0].json
    assert summary.succeeded == 2000
    # the body was translated: system prompt, limits, and the rest passed through
    assert sent["messages"][0] == {"role": "system", "content": "You are terse."}
    assert sent["max_tokens"] == 50 and sent["temperature"] == 0.2 and sent["seed"] == 7
    got = rows(out)
    assert len({r["custom_id"] for r in got}) == 2000
    for r in got:
        check_openai_output_line(r)
        assert r["response"]["body"]["choices"][0]["message"]["content"].startswith("answer to")


def check_openai_output_line(r: dict[str, Any]) -> None:
    """The documented shape of a Batch API output line."""
    assert set(r) == {"id", "custom_id", "response", "error"}
    assert isinstance(r["id"], str) and r["id"].startswith("batch_req_")
    assert isinstance(r["custom_id"], str)
    if r["error"] is not None:
        assert r["response"] is None
        assert set(r["error"]) == {"code", "message"}
        return
    response = r["response"]
    assert set(response) == {"status_code", "request_id", "body"}
    assert isinstance(response["status_code"], int) and isinstance(response["request_id"], str)
    if response["status_code"] != 200:
        assert isinstance(response["body"]["error"]["message"], str)
        return
    body = response["body"]
    assert body["object"] == "chat.completion"
    assert isinstance(body["id"], str) and isinstance(body["created"], int)
    assert isinstance(body["model"], str)
    (choice,) = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] in ("stop", "length", "tool_calls")
    assert choice["message"]["role"] == "assistant"
    usage = body["usage"]
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert isinstance(usage[key], int)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


async def test_an_openai_batch_file_runs_against_anthropic(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    # (no seed: Anthropic has none, and such a body is refused by name; see
    # test_openai_bodies.py)
    inp.write_text(openai_batch(3).replace(', "seed": 7', ""))
    async with LocalServer(handler=lambda r: anthropic_text_reply("bonjour")) as server:
        model = server.model(api="anthropic-messages")
        await run_batch(inp, out, model=model, progress=False)
        body = server.requests[0].json
    assert body["system"][0]["text"] == "You are terse." and body["max_tokens"] == 50
    for r in rows(out):
        check_openai_output_line(r)
        assert r["response"]["body"]["choices"][0]["message"]["content"] == "bonjour"


async def test_a_second_run_resumes_and_sends_nothing_twice(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(30))
    async with LocalServer(handler=echo) as server:
        await run_batch(inp, out, model=server.model(), progress=False)
        # a crash mid-write leaves a torn line: cut on resume, its item done again
        lines = out.read_bytes().splitlines(keepends=True)
        out.write_bytes(b"".join(lines[:20]) + lines[20][:15])
        summary = await run_batch(inp, out, model=server.model(), progress=False)
        assert len(server.requests) == 30 + 10
    assert summary.skipped == 20 and summary.succeeded == 10
    assert sorted(r["id"] for r in rows(out)) == sorted(f"q{i}" for i in range(30))


async def test_a_resume_past_a_long_done_prefix_runs_the_rest(tmp_path: Path) -> None:
    # 2,500 done lines in a row: the workers skip them in steps of 1,024 lines, yielding
    # between steps, and the 100 after them run.
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(2600))
    async with LocalServer(handler=echo) as server:
        await run_batch(inp, out, model=server.model(), concurrency=200, progress=False)
        done = sorted(
            out.read_bytes().splitlines(keepends=True), key=lambda b: int(json.loads(b)["id"][1:])
        )
        out.write_bytes(b"".join(done[:2500]))
        summary = await run_batch(inp, out, model=server.model(), concurrency=50, progress=False)
        assert len(server.requests) == 2600 + 100
    assert summary.skipped == 2500 and summary.succeeded == 100
    assert sorted(r["id"] for r in rows(out)) == sorted(f"q{i}" for i in range(2600))


async def test_a_changed_input_is_refused(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(3))
    async with LocalServer(handler=echo) as server:
        await run_batch(inp, out, model=server.model(), progress=False)
        inp.write_text(ours(4))
        with pytest.raises(TinyAgentError, match="different input"):
            await run_batch(inp, out, model=server.model(), progress=False)
        assert len(server.requests) == 3


async def test_a_duplicate_id_is_refused_before_any_request(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(5) + ours(1, start=2))
    async with LocalServer(handler=echo) as server:
        with pytest.raises(TinyAgentError, match="line 6: the id 'q2' appears more than once"):
            await run_batch(inp, out, model=server.model(), progress=False)
        assert server.requests == []


async def test_a_malformed_line_is_a_failed_item_naming_its_line(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(2) + "{not json\n" + json.dumps({"id": "x"}) + "\n" + ours(1, start=2))
    async with LocalServer(handler=echo) as server:
        summary = await run_batch(inp, out, model=server.model(), progress=False)
    assert summary.succeeded == 3 and summary.failed == 2
    bad = {r["id"]: r["error"] for r in rows(out) if r["error"] is not None}
    assert "line 3: not JSON" in bad["line:3"]["message"]
    assert "line 4 (x)" in bad["x"]["message"] and "prompt" in bad["x"]["message"]


async def test_an_item_that_cannot_run_is_its_own_error_line_and_the_batch_goes_on(
    tmp_path: Path,
) -> None:
    """Bad values that parse (an option of the wrong type) and shapes that do not (a
    tool that is a number, tool calls that are not objects): each is that item's error
    line; the others run, and a resume finds nothing to do instead of dying again."""
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bad = [
        {"id": "hot", "prompt": "hi", "options": {"temperature": "hot"}},
        {"id": "calls", "messages": [{"role": "assistant", "tool_calls": [1]}], "prompt": "x"},
    ]
    inp.write_text(ours(2) + "".join(json.dumps(b) + "\n" for b in bad) + ours(2, start=2))
    async with LocalServer(handler=echo) as server:
        summary = await run_batch(inp, out, model=server.model(), progress=False)
        assert summary.succeeded == 4 and summary.failed == 2
        assert len(server.requests) == 4
        again = await run_batch(inp, out, model=server.model(), progress=False)
        assert len(server.requests) == 4  # nothing sent twice, nothing died
    assert again.skipped == 6 and again.failed == 0  # every id has its line already
    errors = {r["id"]: r["error"]["message"] for r in rows(out) if r["error"] is not None}
    assert set(errors) == {"hot", "calls"}
    assert "temperature" in errors["hot"] and "hot" in errors["hot"]
    assert "line 4 (calls)" in errors["calls"]


async def test_an_openai_batch_line_with_a_tool_that_is_a_number_is_its_error_line(
    tmp_path: Path,
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    line = json.loads(openai_batch(1))
    line["custom_id"], line["body"]["tools"] = "tools", [1]
    inp.write_text(openai_batch(2) + json.dumps(line) + "\n")
    async with LocalServer(handler=echo) as server:
        summary = await run_batch(inp, out, model=server.model(), progress=False)
    assert summary.succeeded == 2 and summary.failed == 1
    (failed,) = [r for r in rows(out) if r["error"] is not None]
    assert failed["custom_id"] == "tools" and "line 3 (tools)" in failed["error"]["message"]


async def test_retry_failed_retries_openai_batch_items_that_failed_with_a_status(
    tmp_path: Path,
) -> None:
    """OpenAI writes an HTTP failure as a response with its status and ``error: null``:
    the resume counts it as failed, and --retry-failed sends it again."""
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(openai_batch(3))
    refused = {"say 1"}

    def handler(request: RecordedRequest) -> Reply:
        if request.json["messages"][-1]["content"] in refused:
            return error_reply(400, "bad request", error_type="invalid_request_error")
        return echo(request)

    async with LocalServer(handler=handler) as server:
        first = await run_batch(inp, out, model=server.model(), progress=False)
        assert first.failed == 1 and len(server.requests) == 3
        (row,) = [r for r in rows(out) if r["response"]["status_code"] != 200]
        assert row["error"] is None and row["custom_id"] == "request-1"
        refused.clear()
        again = await run_batch(inp, out, model=server.model(), retry_failed=True, progress=False)
        assert len(server.requests) == 4  # only the failed item, once more
    assert again.succeeded == 1 and again.failed == 0
    assert sorted(r["custom_id"] for r in rows(out)) == ["request-0", "request-1", "request-2"]
    assert all(r["response"]["status_code"] == 200 for r in rows(out))


async def test_an_agent_factory_that_raises_fails_its_item_only(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(4))
    made: list[int] = []

    def factory() -> Agent:
        made.append(1)
        if len(made) == 2:
            raise RuntimeError("no agent today")
        return Agent()

    async with LocalServer(handler=echo) as server:
        summary = await run_batch(
            inp, out, model=server.model(), agent=factory, concurrency=1, progress=False
        )
    assert summary.succeeded == 3 and summary.failed == 1
    (failed,) = [r for r in rows(out) if r["error"] is not None]
    assert failed["error"]["kind"] == "agent"
    assert "RuntimeError: no agent today" in failed["error"]["message"]


async def test_a_real_id_that_looks_like_a_made_up_one_is_its_own_item(tmp_path: Path) -> None:
    """A malformed line 2 is reported as ``line:2``, unless an item is really called so:
    then both get a line of their own, and a resume mixes neither up."""
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    real = json.dumps({"id": "line:2", "prompt": "say 9"}) + "\n"
    inp.write_text(ours(1) + "{not json\n" + real)
    async with LocalServer(handler=echo) as server:
        summary = await run_batch(inp, out, model=server.model(), progress=False)
        assert summary.succeeded == 2 and summary.failed == 1
        again = await run_batch(inp, out, model=server.model(), progress=False)
        assert again.skipped == 3 and len(server.requests) == 2
    by_id = {r["id"]: r for r in rows(out)}
    assert by_id["line:2"]["text"] == "answer to say 9"
    assert "not JSON" in by_id["line:2~1"]["error"]["message"]


async def test_an_item_that_fails_every_attempt_is_one_error_line(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(4))

    def flaky(request: RecordedRequest) -> Reply:
        if request.json["messages"][-1]["content"] == "say 1":
            return error_reply(503, "down", error_type="server_error")
        return echo(request)

    async with LocalServer(handler=flaky) as server:
        summary = await run_batch(inp, out, model=server.model(), max_attempts=2, progress=False)
        assert len(server.requests) == 3 + 2
    assert summary.failed == 1 and summary.errors == {"overloaded": 1}  # 503: overloaded
    (failed,) = [r for r in rows(out) if r["error"] is not None]
    assert failed["id"] == "q1" and failed["attempts"] == 2
    assert failed["error"]["status"] == 503 and failed["error"]["kind"] == "overloaded"


async def test_retry_failed_runs_the_failed_ids_again(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(4))
    down = True

    def maybe(request: RecordedRequest) -> Reply:
        if down and request.json["messages"][-1]["content"] == "say 2":
            return error_reply(400, "bad")
        return echo(request)

    async with LocalServer(handler=maybe) as server:
        first = await run_batch(inp, out, model=server.model(), progress=False)
        down = False
        again = await run_batch(inp, out, model=server.model(), progress=False)
        fixed = await run_batch(inp, out, model=server.model(), retry_failed=True, progress=False)
    assert first.failed == 1 and again.skipped == 4 and again.succeeded == 0
    assert fixed.succeeded == 1 and fixed.skipped == 3
    got = rows(out)
    assert sorted(r["id"] for r in got) == ["q0", "q1", "q2", "q3"]  # each exactly once
    assert all(r["error"] is None for r in got)


async def test_a_429_pauses_the_batch_for_its_retry_after(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(6))
    limited = [True]

    def once(request: RecordedRequest) -> Reply:
        if limited[0]:
            limited[0] = False
            return error_reply(429, "slow down", error_type="rate_limit_error").but(
                headers={"retry-after": "1"}
            )
        return echo(request)

    async with LocalServer(handler=once) as server:
        summary = await run_batch(inp, out, model=server.model(), concurrency=1, progress=False)
    assert summary.succeeded == 6
    (retried,) = [r for r in rows(out) if r["attempts"] == 2]
    assert retried["duration"] >= 1.0


async def test_an_agent_per_item_with_its_tools(tmp_path: Path) -> None:
    @tool
    def double(n: int) -> int:
        """Double a number."""
        return 2 * n

    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(5))

    def script(request: RecordedRequest) -> Reply:
        last = request.json["messages"][-1]
        if last["role"] == "user":
            return tool_call_reply([("double", {"n": int(last["content"].split()[-1])})])
        return text_reply(f"twice is {last['content']}")

    async with LocalServer(handler=script) as server:
        summary = await run_batch(
            inp, out, model=server.model(), agent=lambda: Agent(tools=[double]), progress=False
        )
    assert summary.succeeded == 5
    by_id = {r["id"]: r for r in rows(out)}
    assert by_id["q3"]["text"] == "twice is 6"
    assert [m["role"] for m in by_id["q3"]["transcript"]] == [
        "user",
        "assistant",
        "toolResult",
        "assistant",
    ]


async def test_an_agent_with_an_output_type_writes_its_structured_answer(tmp_path: Path) -> None:
    import attrs

    @attrs.frozen
    class Verdict:
        label: str
        score: int

    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(3))

    def judge(request: RecordedRequest) -> Reply:
        n = request.json["messages"][-1]["content"].split()[-1]
        if n == "2":
            return text_reply("not json")  # twice: it never validates
        return text_reply(json.dumps({"label": f"item {n}", "score": int(n)}))

    async with LocalServer(handler=judge) as server:
        summary = await run_batch(
            inp,
            out,
            model=server.model(),
            agent=lambda: Agent(output_type=Verdict, output_retries=0),
            progress=False,
        )
    by_id = {r["id"]: r for r in rows(out)}
    assert by_id["q1"]["output"] == {"label": "item 1", "score": 1}
    assert by_id["q1"]["error"] is None
    assert by_id["q2"]["output"] is None and by_id["q2"]["error"]["kind"] == "output_invalid"
    assert summary.succeeded == 2 and summary.errors == {"output_invalid": 1}
