"""A local chat-completions and Anthropic Messages server for benchmarks, run in its own
process.

The request's ``model`` names the stream: ``text-N`` (N text chunks) or ``tools-N`` (one
tool call whose arguments arrive in N fragments), and ``atext-N`` / ``atools-N`` for the
same in the Anthropic Messages format (``rtext``/``rtools`` Responses, ``gtext``/``gthink``
Gemini and ``btext``/``btools`` Bedrock, whose model is named in the path). Bodies are built once per shape and
written in large pieces, so that the server is never the bottleneck and the client's
CPU is what the benchmark measures.
"""

from __future__ import annotations

import functools
import json
import sys

import anyio

from tinyagent.testing import LocalServer, RecordedRequest, Reply

_PER_WRITE = 256


def _event(obj: object) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def _chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "bench",
        "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


@functools.lru_cache(maxsize=16)
def body(kind: str, n: int) -> tuple[bytes, ...]:
    events: list[bytes] = [_event(_chunk({"role": "assistant", "content": ""}))]
    if kind == "text":
        one = _event(_chunk({"content": " tok"}))
        events += [one] * n
        events.append(_event(_chunk({}, "stop")))
    elif kind == "tools":
        first = {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "write", "arguments": '{"s":"'},
        }
        events.append(_event(_chunk({"tool_calls": [first]})))
        one = _event(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": "ab"}}]}))
        events += [one] * (n - 2)
        events.append(
            _event(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"}'}}]}))
        )
        events.append(_event(_chunk({}, "tool_calls")))
    else:
        raise ValueError(kind)
    usage = {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": 10 + n}
    events.append(_event({**_chunk({}), "choices": [], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return tuple(b"".join(events[i : i + _PER_WRITE]) for i in range(0, len(events), _PER_WRITE))


def _aevent(obj: dict[str, object]) -> bytes:
    data = json.dumps(obj, separators=(",", ":"))
    return f"event: {obj['type']}\ndata: {data}\n\n".encode()


@functools.lru_cache(maxsize=16)
def anthropic_body(kind: str, n: int) -> tuple[bytes, ...]:
    message = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "bench",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1},
    }
    events = [_aevent({"type": "message_start", "message": message})]
    if kind == "atext":
        events.append(
            _aevent(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                }
            )
        )
        one = _aevent(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": " tok"},
            }
        )
        reason = "end_turn"
    elif kind == "atools":
        block = {"type": "tool_use", "id": "toolu_1", "name": "write", "input": {}}
        events.append(_aevent({"type": "content_block_start", "index": 0, "content_block": block}))
        events.append(
            _aevent(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": '{"s":"'},
                }
            )
        )
        one = _aevent(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": "ab"},
            }
        )
        n -= 2
        reason = "tool_use"
    else:
        raise ValueError(kind)
    events += [one] * n
    if kind == "atools":
        events.append(
            _aevent(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": '"}'},
                }
            )
        )
    events.append(_aevent({"type": "content_block_stop", "index": 0}))
    events.append(
        _aevent(
            {
                "type": "message_delta",
                "delta": {"stop_reason": reason},
                "usage": {"output_tokens": n},
            }
        )
    )
    events.append(_aevent({"type": "message_stop"}))
    return tuple(b"".join(events[i : i + _PER_WRITE]) for i in range(0, len(events), _PER_WRITE))


@functools.lru_cache(maxsize=16)
def responses_body(kind: str, n: int) -> tuple[bytes, ...]:
    """OpenAI Responses events as the API writes them: every event numbered, deltas
    with their item id, ``logprobs`` and an ``obfuscation`` pad (so no two alike)."""
    seq = iter(range(10**9))

    def ev(obj: dict[str, object]) -> bytes:
        data = json.dumps({"type": obj["type"], "sequence_number": next(seq), **obj},
                          separators=(",", ":"))  # fmt: skip
        return f"event: {obj['type']}\ndata: {data}\n\n".encode()

    response = {"id": "resp_bench", "object": "response", "status": "in_progress", "model": "bench"}
    events = [ev({"type": "response.created", "response": response})]
    pad = "abcdefghijklmnop"
    if kind == "rtext":
        item = {"id": "msg_bench", "type": "message", "role": "assistant", "content": []}
        events.append(ev({"type": "response.output_item.added", "output_index": 0, "item": item}))
        for i in range(n):
            events.append(
                ev({"type": "response.output_text.delta", "item_id": "msg_bench",
                    "output_index": 0, "content_index": 0, "delta": " tok", "logprobs": [],
                    "obfuscation": pad[: 4 + i % 12]})
            )  # fmt: skip
        done = {**item, "content": [{"type": "output_text", "text": " tok" * n, "annotations": []}]}
    elif kind == "rtools":
        item = {"id": "fc_bench", "type": "function_call", "call_id": "call_1", "name": "write",
                "arguments": ""}  # fmt: skip
        events.append(ev({"type": "response.output_item.added", "output_index": 0, "item": item}))
        args = '{"s":"' + "ab" * (n - 2) + '"}'
        for i, piece in enumerate(['{"s":"', *["ab"] * (n - 2), '"}']):
            events.append(
                ev({"type": "response.function_call_arguments.delta", "item_id": "fc_bench",
                    "output_index": 0, "delta": piece, "obfuscation": pad[: 4 + i % 12]})
            )  # fmt: skip
        events.append(
            ev({"type": "response.function_call_arguments.done", "item_id": "fc_bench",
                "output_index": 0, "arguments": args})
        )  # fmt: skip
        done = {**item, "arguments": args}
    else:
        raise ValueError(kind)
    events.append(ev({"type": "response.output_item.done", "output_index": 0, "item": done}))
    usage = {"input_tokens": 10, "output_tokens": n, "total_tokens": 10 + n}
    final = {**response, "status": "completed", "usage": usage}
    events.append(ev({"type": "response.completed", "response": final}))
    return tuple(b"".join(events[i : i + _PER_WRITE]) for i in range(0, len(events), _PER_WRITE))


def _turn_reply(messages: list[dict[str, object]], turns: int) -> Reply:
    """Agent-loop turns: a trivial tool call until ``turns`` results came back, then text."""
    done = sum(1 for m in messages if m.get("role") == "tool")
    if done < turns:
        call = {
            "index": 0,
            "id": f"call_{done}",
            "type": "function",
            "function": {"name": "step", "arguments": json.dumps({"i": done})},
        }
        events = [
            _event(_chunk({"role": "assistant", "tool_calls": [call]})),
            _event(_chunk({}, "tool_calls")),
        ]
    else:
        events = [
            _event(_chunk({"role": "assistant", "content": "All steps done."})),
            _event(_chunk({}, "stop")),
        ]
    usage = {"prompt_tokens": 10 + done, "completion_tokens": 5, "total_tokens": 15 + done}
    events.append(_event({**_chunk({}), "choices": [], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return Reply(pieces=(b"".join(events),))


def _turn_json(messages: list[dict[str, object]], turns: int) -> Reply:
    """The same turns as a non-streaming completion (for peers that do not stream)."""
    done = sum(1 for m in messages if m.get("role") == "tool")
    if done < turns:
        call = {
            "id": f"call_{done}",
            "type": "function",
            "function": {"name": "step", "arguments": json.dumps({"i": done})},
        }
        message: dict[str, object] = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish = "tool_calls"
    else:
        message, finish = {"role": "assistant", "content": "All steps done."}, "stop"
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "bench",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10 + done, "completion_tokens": 5, "total_tokens": 15 + done},
    }
    return Reply(body=json.dumps(body).encode(), content_type="application/json")


@functools.lru_cache(maxsize=16)
def gemini_body(kind: str, n: int) -> tuple[bytes, ...]:
    """Gemini chunks as the API writes them: CRLF line ends, every chunk a whole
    response with running usage totals and the model version (so no two alike);
    ``gthink`` is thought parts (``thought: true``) before one text part."""
    events = []
    for i in range(n):
        part: dict[str, object] = {"text": " tok"}
        if kind == "gthink":
            part["thought"] = True
        elif kind != "gtext":
            raise ValueError(kind)
        chunk = {
            "candidates": [{"content": {"parts": [part], "role": "model"}, "index": 0}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": i + 1,
                              "totalTokenCount": 11 + i},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "resp_bench",
        }  # fmt: skip
        events.append(b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\r\n\r\n")
    last = {
        "candidates": [{"content": {"parts": [{"text": "."}], "role": "model"},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": n + 1,
                          "totalTokenCount": 11 + n},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp_bench",
    }  # fmt: skip
    events.append(b"data: " + json.dumps(last, separators=(",", ":")).encode() + b"\r\n\r\n")
    return tuple(b"".join(events[i : i + _PER_WRITE]) for i in range(0, len(events), _PER_WRITE))


@functools.lru_cache(maxsize=16)
def bedrock_body(kind: str, n: int) -> tuple[bytes, ...]:
    """ConverseStream frames as Bedrock writes them: each event a binary frame with its
    three headers and both CRCs, the payload padded with a ``p`` string of varying
    length (so no two alike); ``btools`` is one ``toolUse`` whose input arrives in
    fragments."""
    from tinyagent.wire import encode_frame

    pad = "abcdefghijklmnopqrstuvwxyz"

    def frame(event: str, member: dict[str, object], i: int = 0) -> bytes:
        member = {**member, "p": pad[: 3 + i % 20]}
        headers = {":event-type": event, ":content-type": "application/json",
                   ":message-type": "event"}  # fmt: skip
        return encode_frame(headers, json.dumps(member, separators=(",", ":")).encode())

    events = [frame("messageStart", {"role": "assistant"})]
    if kind == "btext":
        for i in range(n):
            delta = {"contentBlockIndex": 0, "delta": {"text": " tok"}}
            events.append(frame("contentBlockDelta", delta, i))
        reason = "end_turn"
    elif kind == "btools":
        start = {"toolUse": {"toolUseId": "tooluse_1", "name": "write"}}
        events.append(frame("contentBlockStart", {"contentBlockIndex": 0, "start": start}))
        for i, piece in enumerate(['{"s":"', *["ab"] * (n - 2), '"}']):
            delta = {"contentBlockIndex": 0, "delta": {"toolUse": {"input": piece}}}
            events.append(frame("contentBlockDelta", delta, i))
        reason = "tool_use"
    else:
        raise ValueError(kind)
    events.append(frame("contentBlockStop", {"contentBlockIndex": 0}))
    events.append(frame("messageStop", {"stopReason": reason}))
    usage = {"inputTokens": 10, "outputTokens": n, "totalTokens": 10 + n}
    events.append(frame("metadata", {"usage": usage, "metrics": {"latencyMs": 1}}))
    return tuple(b"".join(events[i : i + _PER_WRITE]) for i in range(0, len(events), _PER_WRITE))


def handler(request: RecordedRequest) -> Reply:
    if request.path.endswith("/converse-stream"):  # Bedrock names the model in the path
        kind, _, n = request.path.split("/model/", 1)[1].split("/", 1)[0].partition("-")
        return Reply(
            pieces=bedrock_body(kind, int(n)), content_type="application/vnd.amazon.eventstream"
        )
    if ":streamGenerateContent" in request.path:  # Gemini names the model in the path
        name = request.path.split("/models/", 1)[1].split(":", 1)[0]
        kind, _, n = name.partition("-")
        return Reply(pieces=gemini_body(kind, int(n)))
    req = request.json
    kind, _, n = str(req["model"]).partition("-")
    if kind == "turn" and not req.get("stream"):
        return _turn_json(req["messages"], int(n))
    if kind == "turn":
        return _turn_reply(req["messages"], int(n))
    if kind.startswith("a"):
        return Reply(pieces=anthropic_body(kind, int(n)))
    if kind.startswith("r"):
        return Reply(pieces=responses_body(kind, int(n)))
    return Reply(pieces=body(kind, int(n)))


async def main() -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    async with LocalServer(handler=handler) as server:
        print(server.port, flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    try:
        anyio.run(main, backend=sys.argv[1] if len(sys.argv) > 1 else "trio")
    except KeyboardInterrupt:
        pass
