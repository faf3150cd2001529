"""The input's ids as fingerprints: compact, and exact whatever the fingerprints do
(tested with fingerprints cut to a few bits, so that they collide all the time)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinyagent import TinyAgentError
from tinyagent.batch._ids import IdTable
from tinyagent.batch._journal import Journal, scan_input


def test_a_table_holds_each_id_in_at_most_16_bytes() -> None:
    table = IdTable()
    for n in range(1, 200_001):
        assert table.add(f"q{n}")
        if n % 997 == 0:
            assert table.nbytes / n <= 16.5, n  # grown by half when three quarters full
    assert len(table) == 200_000
    assert "q5" in table and "q0" not in table and 5 not in table
    assert not table.add("q5")


def test_done_flags() -> None:
    table = IdTable()
    table.add("a")
    assert table.mark_done("a") is True
    assert table.mark_done("a") is False
    assert table.mark_done("b") is None  # not in the table
    assert table.is_done("a") and not table.is_done("b")
    assert table.done_count == 1


def _input(tmp_path: Path, ids: list[str | None]) -> Path:
    path = tmp_path / "in.jsonl"
    lines = [json.dumps({"id": i, "prompt": "p"} if i else {"prompt": "p"}) for i in ids]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("bits", [8, 62])
def test_colliding_fingerprints_never_make_a_false_duplicate(tmp_path: Path, bits: int) -> None:
    ids: list[str | None] = [f"item-{n}" for n in range(20)]
    scan = scan_input(_input(tmp_path, ids), None, bits=bits)
    assert scan.items == 20
    assert all(i in scan.ids for i in ids if i)


@pytest.mark.parametrize("bits", [8, 62])
def test_a_real_duplicate_is_refused_naming_its_line(tmp_path: Path, bits: int) -> None:
    ids: list[str | None] = [f"item-{n}" for n in range(12)] + ["item-3"]
    with pytest.raises(TinyAgentError, match="line 13: the id 'item-3' appears more than once"):
        scan_input(_input(tmp_path, ids), None, bits=bits)


@pytest.mark.parametrize("bits", [8, 62])
def test_unnamed_lines_are_named_by_the_input_alone(tmp_path: Path, bits: int) -> None:
    # Line 2 has no id, and a real item is called "line:2": it becomes "line:2~1".
    ids: list[str | None] = ["a", None, "line:2", None, *[f"x{n}" for n in range(8)]]
    scan = scan_input(_input(tmp_path, ids), None, bits=bits)
    assert scan.id_of_unnamed(2) == "line:2~1"
    assert scan.id_of_unnamed(4) == "line:4"
    assert "line:2~1" in scan.ids and "line:4" in scan.ids


@pytest.mark.parametrize("bits", [8, 62])
def test_resume_flags_exactly_the_ids_in_the_output(tmp_path: Path, bits: int) -> None:
    ids: list[str | None] = [f"item-{n}" for n in range(16)]
    path = _input(tmp_path, ids)
    scan = scan_input(path, None, bits=bits)
    out = tmp_path / "out.jsonl"
    first = Journal(out, scan)
    first._file.write(b"".join(json.dumps({"id": f"item-{n}"}).encode() + b"\n" for n in (1, 5)))
    first._file.close()
    first._lock.close()
    scan = scan_input(path, None, bits=bits)
    again = Journal(out, scan)
    try:
        assert scan.ids.done_count == 2
        assert [n for n in range(16) if scan.ids.is_done(f"item-{n}")] == [1, 5]
    finally:
        again._file.close()
        again._lock.close()


def test_an_output_line_of_another_input_is_refused(tmp_path: Path) -> None:
    path = _input(tmp_path, ["a", "b"])
    out = tmp_path / "out.jsonl"
    first = Journal(out, scan_input(path, None))
    first._file.write(b'{"id":"zzz"}\n')
    first._file.close()
    first._lock.close()
    with pytest.raises(TinyAgentError, match="id 'zzz' is not one of the input's"):
        Journal(out, scan_input(path, None))


def test_the_scan_sizes_the_table_from_the_file(tmp_path: Path) -> None:
    """Short ids first and long ones after: the estimate samples the middle and the end
    too, so the table is neither grown (the old and new arrays at once) nor oversized."""
    ids: list[str | None] = [f"q{n}" for n in range(1000)]
    ids += [f"a-much-longer-id-{n:08d}" for n in range(60_000)]
    scan = scan_input(_input(tmp_path, ids), None)
    assert scan.items == 61_000
    assert scan.ids.nbytes / scan.items <= 16
    assert scan.ids.nbytes / scan.items >= 10.6  # not grown past two-thirds full either
