"""Parameter descriptions from a docstring, in the three common styles: Google
(``Args:``), NumPy (``Parameters`` over dashes) and reST (``:param name: text``)."""

from __future__ import annotations

import re

__all__ = ["describe_parameters", "summary"]

_GOOGLE = re.compile(r"^(Args|Arguments|Parameters|Params):\s*$")
_NUMPY_HEAD = re.compile(r"^Parameters\s*$")
_REST = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+):\s*(.*)$")
_SECTION = re.compile(r"^(Returns?|Yields?|Raises|Examples?|Notes?|See Also|Attributes)\s*:?\s*$")


def summary(doc: str) -> str:
    """The first paragraph, on one line."""
    return doc.split("\n\n", 1)[0].replace("\n", " ").strip()


def describe_parameters(doc: str) -> dict[str, str]:
    lines = doc.splitlines()
    out: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        rest = _REST.match(line)
        if rest:
            name, text = rest.groups()
            j = i + 1
            while j < len(lines) and lines[j].strip() and not lines[j].strip().startswith(":"):
                text += " " + lines[j].strip()
                j += 1
            out[name] = text.strip()
            i = j
            continue
        if _GOOGLE.match(line) and not (i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}):
            i = _google(lines, i + 1, out)
            continue
        if _NUMPY_HEAD.match(line) and i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}:
            i = _numpy(lines, i + 2, out)
            continue
        i += 1
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _google(lines: list[str], i: int, out: dict[str, str]) -> int:
    entry = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
    base: int | None = None
    name: str | None = None
    while i < len(lines):
        raw = lines[i]
        if not raw.strip():
            i += 1
            continue
        if base is None:
            base = _indent(raw)
        if _indent(raw) < base or _SECTION.match(raw.strip()):
            break
        m = entry.match(raw.strip()) if _indent(raw) == base else None
        if m:
            name = m.group(1).lstrip("*")
            out[name] = m.group(2).strip()
        elif name is not None:
            out[name] = (out[name] + " " + raw.strip()).strip()
        i += 1
    return i


def _numpy(lines: list[str], i: int, out: dict[str, str]) -> int:
    name: str | None = None
    base: int | None = None
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if i + 1 < len(lines) and stripped and set(lines[i + 1].strip()) == {"-"}:
            break  # the next section
        if not stripped:
            i += 1
            continue
        if base is None:
            base = _indent(raw)
        if _indent(raw) == base:
            name = stripped.split(":", 1)[0].strip().lstrip("*")
            out[name] = ""
        elif name is not None:
            out[name] = (out[name] + " " + stripped).strip()
        i += 1
    return i
