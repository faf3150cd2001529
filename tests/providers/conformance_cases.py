"""The recorded cases of one wire format (``tests/conformance/``), and each served as it
was recorded: a stream in random slices, or an error answer with its status and type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tinyagent.testing import Reply, sse_file_reply

from ..conftest import conformance_dir


def cases(fmt: str, suffix: str = ".sse") -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for exp in sorted(conformance_dir().glob("*.expected.json")):
        expected = json.loads(exp.read_text())
        if expected["format"] == fmt:
            out.append((exp.with_name(exp.name.replace(".expected.json", suffix)), expected))
    return out


def served(path: Path, expected: dict[str, Any]) -> Reply:
    status = expected.get("http_status", 200)
    content_type = expected.get("content_type", "text/event-stream")
    if status != 200:
        return Reply(status=status, body=path.read_bytes(), content_type=content_type)
    reply = sse_file_reply(path, slices=(1, 97), seed=sum(path.name.encode()))
    return reply.but(content_type=content_type)
