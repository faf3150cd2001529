"""Whole-agent snapshots: ``agent.save(path)`` and ``Agent.load(path)``.

A snapshot holds the model (never its key), the system prompt, the transcript, the
settings and the options that are plain data, through the project's one converter.
Tools and hooks are code, so ``load`` takes them again. A file is written whole or not at
all (a temporary file, then an atomic rename), and reading checks everything before an
agent is made: a file from a newer version, or a corrupt one, gives a clear error, never
a half-loaded agent.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._util.json import replace_lone_surrogates
from ..messages import Message, Model, Usage
from ..serde import structure, unstructure

__all__ = ["FORMAT", "VERSION", "read_snapshot", "write_snapshot"]

FORMAT = "tinyagent.agent"
VERSION = 1


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _plain_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options that are data (numbers, names); hooks, clients and keys are not kept."""
    out: dict[str, Any] = {}
    for name, value in options.items():
        if name == "stream_options" and isinstance(value, Mapping):
            kept = {k: v for k, v in value.items() if k not in ("api_key", "headers") and _plain(v)}
            if kept:
                out[name] = kept
        elif _plain(value):
            out[name] = value
    return out


def write_snapshot(
    path: str | os.PathLike[str],
    *,
    model: Model | None,
    system_prompt: str,
    messages: Sequence[Message],
    usage: Usage,
    settings: Mapping[str, Any],
    options: Mapping[str, Any],
) -> None:
    """Write an agent's parts as a snapshot (the options that are data only), whole or
    not at all."""
    data = {
        "format": FORMAT,
        "version": VERSION,
        "model": unstructure(model) if model is not None else None,
        "system_prompt": system_prompt,
        "messages": [unstructure(m) for m in messages],
        "usage": unstructure(usage),
        "settings": dict(settings),
        "options": _plain_options(options),
    }
    text = replace_lone_surrogates(json.dumps(data, ensure_ascii=False, indent=1))
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)  # whole or not at all
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_snapshot(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The snapshot's parts, all checked and structured (raises ``ValueError`` naming
    what is wrong; nothing is half-done)."""
    where = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where} is not an agent snapshot: not valid JSON ({exc})") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where} is not an agent snapshot: not UTF-8 text ({exc})") from None
    except RecursionError:
        raise ValueError(f"{where} is not an agent snapshot: nested too deeply") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{where} is not an agent snapshot (no 'format': {FORMAT!r})")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"{where}: the snapshot's version {version!r} is not one tinyagent wrote")
    if version > VERSION:
        raise ValueError(
            f"{where} was saved by a newer tinyagent (snapshot version {version}); this one "
            f"reads up to version {VERSION}: upgrade tinyagent to load it"
        )
    try:
        model = structure(data["model"], Model) if data.get("model") is not None else None
        messages = [structure(m, Message) for m in data.get("messages", [])]
        usage = structure(data["usage"], Usage) if "usage" in data else Usage()
        settings = dict(data.get("settings") or {})
        options = dict(data.get("options") or {})
        system_prompt = data.get("system_prompt", "")
        if not isinstance(system_prompt, str):
            raise TypeError(f"system_prompt must be text, got {type(system_prompt).__name__}")
    except RecursionError:
        raise ValueError(f"{where} is a damaged agent snapshot: nested too deeply") from None
    except Exception as exc:
        raise ValueError(
            f"{where} is a damaged agent snapshot: {type(exc).__name__}: {exc}"
        ) from None
    return {
        "model": model,
        "messages": messages,
        "usage": usage,
        "settings": settings,
        "options": options,
        "system_prompt": system_prompt,
    }
