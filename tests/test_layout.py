"""The rules of the layout that import-linter cannot see (it reads imports; these read
the code): only ``providers/`` decides anything by a model's wire format."""

from __future__ import annotations

import ast
from pathlib import Path

import tinyagent

PACKAGE = Path(tinyagent.__file__).parent


def _reads_of_api(tree: ast.AST) -> list[int]:
    """Lines that branch on ``<x>.api`` or look a provider up by it."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Attribute) and o.attr == "api" for o in operands):
                lines.append(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "get_provider"
            and any(isinstance(a, ast.Attribute) and a.attr == "api" for a in node.args)
        ):
            lines.append(node.lineno)
    return lines


def test_only_providers_branch_on_the_wire_format() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "providers":
            continue
        for line in _reads_of_api(ast.parse(path.read_text(encoding="utf-8"))):
            offenders.append(f"{rel}:{line}")
    assert offenders == [], "ask the provider (provider_for, takes_*) instead: " + ", ".join(
        offenders
    )


def test_the_check_sees_a_branch_on_the_wire_format() -> None:
    branchy = ast.parse('if model.api == "anthropic-messages":\n    pass\nget_provider(m.api)\n')
    assert _reads_of_api(branchy) == [1, 3]


def test_every_room_says_what_lives_there_and_what_it_may_import() -> None:
    undocumented = []
    for init in sorted(PACKAGE.rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        if len(doc) < 80:
            undocumented.append(str(init.parent.relative_to(PACKAGE)))
    assert undocumented == []
