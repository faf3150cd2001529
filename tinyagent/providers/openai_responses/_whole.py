"""A whole Responses ``response`` (a proxy that ignored ``stream: true``) as the events
a stream of it would have sent, so that one parser reads both."""

from __future__ import annotations

from typing import Any

from ..._util.json import dumps

__all__ = ["responses_whole_reply"]

_ENDS = {"completed": "response.completed", "incomplete": "response.incomplete",
         "failed": "response.failed"}  # fmt: skip


def _item(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    kind = item.get("type")
    shell: dict[str, Any] = dict(item)
    deltas: list[dict[str, Any]] = []
    if kind == "message":
        shell["content"] = []
        for part in item.get("content") or ():
            if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]:
                kind_of = "refusal" if part.get("type") == "refusal" else "output_text"
                deltas.append(
                    {
                        "type": f"response.{kind_of}.delta",
                        "output_index": index,
                        "delta": part["text"],
                    }
                )
            elif (
                isinstance(part, dict) and isinstance(part.get("refusal"), str) and part["refusal"]
            ):
                deltas.append(
                    {
                        "type": "response.refusal.delta",
                        "output_index": index,
                        "delta": part["refusal"],
                    }
                )
    elif kind == "reasoning":
        shell["summary"] = []
        for part in item.get("summary") or ():
            if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]:
                deltas.append(
                    {"type": "response.reasoning_summary_text.delta", "output_index": index,
                     "delta": part["text"]}
                )  # fmt: skip
    elif kind == "function_call":
        shell["arguments"] = ""
    added = {"type": "response.output_item.added", "output_index": index, "item": shell}
    done = {"type": "response.output_item.done", "output_index": index, "item": item}
    return [added, *deltas, done]


def responses_whole_reply(obj: Any) -> list[bytes] | None:
    """The stream payloads equivalent to ``obj``, or None if it is no response."""
    if not isinstance(obj, dict):
        return None
    if "error" in obj and obj.get("object") != "response":
        error = obj["error"]
        return [
            dumps(
                {"type": "error", **(error if isinstance(error, dict) else {"message": str(error)})}
            )
        ]
    output = obj.get("output")
    if obj.get("object") != "response" or not isinstance(output, list):
        return None
    events: list[dict[str, Any]] = [{"type": "response.created", "response": {**obj, "output": []}}]
    for index, item in enumerate(output):
        if not isinstance(item, dict):
            return None
        events.extend(_item(index, item))
    status = obj.get("status")
    end = _ENDS.get(status if isinstance(status, str) else "", "response.completed")
    events.append({"type": end, "response": obj})
    return [dumps(e) for e in events]
