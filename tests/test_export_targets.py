"""Export targets that are not plain files, two exports to one file, and CSV cells a
spreadsheet would run as formulas.

Every target here lives in the test's own directory: a link to ``/dev/null`` or
``/dev/full`` stands for the device, so that even a broken build cannot replace one.
"""

from __future__ import annotations

import csv
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from helpers import listing

from kore_cases._export import CaseExport, TargetBusyError, TargetLock

CASE: dict[str, Any] = {"_id": "c-1", "refId": "1", "name": "printer on fire"}


def _export(target: Path, fmt: Any = "jsonl", cases: int = 3, **options: Any) -> None:
    with CaseExport(target, fmt, **options) as export:
        for n in range(cases):
            export.write({**CASE, "_id": f"c-{n}"})
        export.end_page(2)


def test_a_link_to_dev_null_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    link = tmp_path / "out.jsonl"
    link.symlink_to(os.devnull)
    _export(link)
    assert link.is_symlink()
    assert os.readlink(link) == os.devnull
    assert stat.S_ISCHR(os.stat(link).st_mode)
    assert listing(tmp_path) == ["out.jsonl"]  # no partial, no lock, nothing renamed


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_dev_full_fails_with_an_error_naming_it(tmp_path: Path, fmt: str) -> None:
    link = tmp_path / f"out.{fmt}"
    link.symlink_to("/dev/full")
    with pytest.raises(OSError, match="No space left") as caught:
        _export(link, fmt, cases=20_000)  # more than the write buffer holds
    assert caught.value.filename == str(link)
    assert link.is_symlink()
    assert listing(tmp_path) == [link.name]


def test_a_named_pipe_is_written_through_and_stays_a_pipe(tmp_path: Path) -> None:
    fifo = tmp_path / "cases.jsonl"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    _export(fifo)
    reader.join(timeout=30)
    assert not reader.is_alive()
    assert received[0].count(b"\n") == 3
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert listing(tmp_path) == [fifo.name]


def test_a_link_to_a_file_replaces_the_file_and_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "data" / "cases.jsonl"
    real.parent.mkdir()
    real.write_bytes(b"previous export\n")
    link = tmp_path / "latest.jsonl"
    link.symlink_to(real)
    _export(link)
    assert link.is_symlink()
    assert real.read_bytes().count(b"\n") == 3
    assert listing(real.parent) == ["cases.jsonl"]
    assert listing(tmp_path) == ["data", "latest.jsonl"]


def test_a_second_export_to_the_same_file_is_refused_naming_the_holder(
    tmp_path: Path,
) -> None:
    target = tmp_path / "cases.jsonl"
    with CaseExport(target, "jsonl") as first:
        first.write(CASE)
        first.end_page(2)
        partial = first.partial
        assert partial is not None
        kept = partial.read_bytes()
        for options in ({}, {"restart": True}):
            with pytest.raises(TargetBusyError, match=f"pid {os.getpid()}") as caught:
                CaseExport(target, "jsonl", **options).__enter__()
            assert caught.value.filename == str(target)
        assert partial.read_bytes() == kept  # the second touched nothing
    assert target.read_bytes() == kept
    assert listing(tmp_path) == [target.name]


def test_the_lock_is_free_again_once_the_export_ends(tmp_path: Path) -> None:
    target = tmp_path / "cases.jsonl"
    _export(target)
    with TargetLock(target):
        pass
    _export(target)
    assert listing(tmp_path) == [target.name]


# -- CSV formula injection ---------------------------------------------------------------

HOSTILE = {
    "_id": "c-1",
    "name": '=HYPERLINK("http://evil.example","click")',
    "refId": "+cmd|' /C calc'!A0",
    "assigneeType": "@SUM(1+1)",
    "tags": ["-2+3+cmd|' /C calc'!A0", "fine"],
    "fields": [
        {"metaData": {"name": "note"}, "selectedValue": "\tleading tab"},
        {"metaData": {"name": "memo"}, "selectedValue": "\rleading return"},
        {"metaData": {"name": "amount"}, "selectedValue": -5},
        {"metaData": {"name": "plain"}, "selectedValue": "a = b"},
    ],
}


def _csv_row(target: Path) -> dict[str, str]:
    with target.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 1
    return rows[0]


def test_csv_cells_a_spreadsheet_would_run_are_neutralised(tmp_path: Path) -> None:
    target = tmp_path / "cases.csv"
    with CaseExport(target, "csv") as export:
        export.write(HOSTILE)
    row = _csv_row(target)
    assert row["name"] == "'" + HOSTILE["name"]
    assert row["ref_id"] == "'+cmd|' /C calc'!A0"
    assert row["assignee_type"] == "'@SUM(1+1)"
    assert row["tags"] == "'-2+3+cmd|' /C calc'!A0; fine"
    assert row["field:note"] == "'\tleading tab"
    assert row["field:memo"] == "'\rleading return"
    assert row["field:amount"] == "-5"  # a number is never a formula
    assert row["field:plain"] == "a = b"
    assert row["id"] == "c-1"


def test_csv_raw_writes_cells_as_they_are(tmp_path: Path) -> None:
    target = tmp_path / "cases.csv"
    with CaseExport(target, "csv", csv_raw=True) as export:
        export.write(HOSTILE)
    row = _csv_row(target)
    assert row["name"] == HOSTILE["name"]
    assert row["tags"] == "-2+3+cmd|' /C calc'!A0; fine"
    assert row["field:note"] == "\tleading tab"
