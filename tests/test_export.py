"""The export writers: flat rows, JSONL/CSV/Parquet output, atomic replacement."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import listing

from kore_cases._export import (
    COLUMNS,
    CaseExport,
    MissingExtraError,
    PartialError,
    flat_row,
    format_for_path,
    partial_path,
    read_partial,
)

SAMPLE = Path(__file__).parent / "data" / "sample_response.json"


@pytest.fixture
def sample() -> dict[str, Any]:
    """The documented sample case, as the API sends it."""
    case: dict[str, Any] = json.loads(SAMPLE.read_text())["results"][0]
    return case


def make_cases(sample: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """``n`` variations of the sample: distinct ids, one with an extra field, one sparse."""
    cases = []
    for i in range(n):
        case = json.loads(json.dumps(sample))
        case["_id"] = f"ci-{i:04d}"
        case["queues"] = [{"_id": "qu-1", "name": "VIP"}, {"_id": "qu-2", "name": "Billing"}]
        case["channel"] = ["email", "chat"]
        cases.append(case)
    cases[1]["fields"].append(
        {"metaData": {"name": "region"}, "selectedValue": {"code": "EU", "n": 2}}
    )
    cases[2] = {"_id": "ci-sparse", "createdAt": "not a date"}
    return cases


def test_flat_row_maps_the_documented_case(sample: dict[str, Any]) -> None:
    row = flat_row(sample)
    assert list(row)[: len(COLUMNS)] == list(COLUMNS)
    assert row["id"] == sample["_id"]
    assert row["ref_id"] == "CS000100"
    assert row["status"] == "Open"
    assert row["priority"] == "Medium"
    assert row["assignee_type"] == "unassigned"
    assert row["created_at"] == "2025-05-27T04:03:42.617Z"
    assert row["due_at"] == 1748491380000
    assert row["is_breached"] is False
    assert row["field:dueDate"] == "2025-05-29T04:03:00.000Z"
    assert row["field:title"] == "case one"


def test_flat_row_is_lenient_about_missing_and_odd_values() -> None:
    row = flat_row({"_id": "x", "status": "open", "queues": ["Q", 7, None], "fields": [1, {}]})
    assert row["status"] == "open"
    assert row["priority"] is None
    assert row["queues"] == ["Q", "7"]
    assert row["tags"] == []
    assert not [key for key in row if key.startswith("field:")]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.csv", "csv"), ("A.PARQUET", "parquet"), ("x.ndjson", "jsonl"), ("x.txt", None)],
)
def test_format_for_path(name: str, expected: str | None) -> None:
    assert format_for_path(name) == expected


def test_jsonl_keeps_every_field_as_sent(tmp_path: Path, sample: dict[str, Any]) -> None:
    cases = make_cases(sample, 5)
    target = tmp_path / "cases.jsonl"
    with CaseExport(target, "jsonl") as export:
        for case in cases:
            export.write(case)
    assert export.count == 5
    lines = target.read_bytes().splitlines()
    assert [msgspec.json.decode(line) for line in lines] == cases
    assert listing(tmp_path) == ["cases.jsonl"]


def test_csv_has_the_flat_columns_and_late_field_columns(
    tmp_path: Path, sample: dict[str, Any]
) -> None:
    target = tmp_path / "cases.csv"
    with CaseExport(target, "csv") as export:
        for case in make_cases(sample, 4):
            export.write(case)
    with target.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0])
    assert header == [*COLUMNS, "field:title", "field:description", "field:dueDate", "field:region"]
    assert [r["id"] for r in rows] == ["ci-0000", "ci-0001", "ci-sparse", "ci-0003"]
    first = rows[0]
    assert first["queues"] == "VIP; Billing"
    assert first["channel"] == "email; chat"
    assert first["is_breached"] == "false"
    assert first["due_at"] == "2025-05-29T04:03:00.000Z"
    assert first["field:region"] == ""
    assert rows[1]["field:region"] == '{"code":"EU","n":2}'
    assert rows[2]["status"] == ""


def test_parquet_types_and_row_groups(tmp_path: Path, sample: dict[str, Any]) -> None:
    target = tmp_path / "cases.parquet"
    with CaseExport(target, "parquet", row_group_size=2) as export:
        for case in make_cases(sample, 5):
            export.write(case)
    parquet = pq.ParquetFile(target)
    assert parquet.metadata.num_row_groups == 3
    table = parquet.read()
    assert table.column_names[: len(COLUMNS)] == list(COLUMNS)
    assert "field:region" in table.column_names
    assert table.schema.field("created_at").type == pa.timestamp("ms", tz="UTC")
    assert table.schema.field("queues").type == pa.list_(pa.string())
    assert table.schema.field("is_breached").type == pa.bool_()
    rows = table.to_pylist()
    assert [r["id"] for r in rows] == ["ci-0000", "ci-0001", "ci-sparse", "ci-0003", "ci-0004"]
    assert rows[0]["created_at"].isoformat() == "2025-05-27T04:03:42.617000+00:00"
    assert rows[0]["due_at"].isoformat() == "2025-05-29T04:03:00+00:00"
    assert rows[0]["queues"] == ["VIP", "Billing"]
    assert rows[2]["created_at"] is None  # "not a date" becomes null, not a failed export
    assert rows[1]["field:region"] == '{"code":"EU","n":2}'


def test_empty_exports_are_valid_files(tmp_path: Path) -> None:
    for fmt in ("jsonl", "csv", "parquet"):
        with CaseExport(tmp_path / f"empty.{fmt}", fmt):
            pass
    assert (tmp_path / "empty.jsonl").read_bytes() == b""
    assert (tmp_path / "empty.csv").read_text().splitlines() == [",".join(COLUMNS)]
    assert pq.read_table(tmp_path / "empty.parquet").num_rows == 0


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_a_failed_export_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, sample: dict[str, Any], fmt: Any
) -> None:
    target = tmp_path / f"cases.{fmt}"
    target.write_bytes(b"previous export")
    with pytest.raises(RuntimeError, match="boom"), CaseExport(target, fmt) as export:
        export.write(sample)
        # The partial and the lock of the export sit beside the target.
        assert listing(tmp_path) == [
            target.name,
            f"{target.name}.partial",
            f"{target.name}.partial.lock",
        ]
        raise RuntimeError("boom")  # before any page was complete: nothing worth keeping
    assert listing(tmp_path) == [target.name]
    assert target.read_bytes() == b"previous export"


def test_keyboard_interrupt_also_cleans_up(tmp_path: Path, sample: dict[str, Any]) -> None:
    with pytest.raises(KeyboardInterrupt), CaseExport(tmp_path / "c.jsonl", "jsonl") as export:
        export.write(sample)
        raise KeyboardInterrupt
    assert listing(tmp_path) == []


def test_the_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    with CaseExport(tmp_path / "c.jsonl", "jsonl"):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    assert (tmp_path / "c.jsonl").stat().st_mode & 0o777 == 0o666 & ~mask


def test_bad_targets_fail_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError), CaseExport(tmp_path, "jsonl"):
        pass
    with pytest.raises(FileNotFoundError), CaseExport(tmp_path / "no" / "c.csv", "csv"):
        pass
    with pytest.raises(ValueError, match="format"):
        CaseExport(tmp_path / "c.xml", "xml")  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_stream_output(sample: dict[str, Any], fmt: Any) -> None:
    stream = io.BytesIO()
    with CaseExport(None, fmt, stream=stream) as export:
        export.write(sample)
    data = stream.getvalue()
    if fmt == "jsonl":
        assert msgspec.json.decode(data) == sample
    elif fmt == "csv":
        assert data.decode().splitlines()[1].startswith(sample["_id"] + ",CS000100,")
    else:
        assert pq.read_table(io.BytesIO(data)).column("id").to_pylist() == [sample["_id"]]
    assert not stream.closed


def test_missing_pyarrow_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # None in sys.modules makes an import raise ImportError, as if it were not installed.
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'kore-cases\[parquet\]'"):
        CaseExport(tmp_path / "c.parquet", "parquet")
    assert listing(tmp_path) == []


def test_write_outside_the_block_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="context manager"):
        CaseExport(tmp_path / "c.jsonl", "jsonl").write({"_id": "x"})


# -- partials: keeping the complete pages, and resuming ---------------------------------


def partial_lines(target: Path) -> list[dict[str, Any]]:
    return [msgspec.json.decode(line) for line in partial_path(target).read_bytes().splitlines()]


def read_rows(target: Path, fmt: str) -> list[dict[str, Any]]:
    if fmt == "jsonl":
        return [msgspec.json.decode(line) for line in target.read_bytes().splitlines()]
    if fmt == "csv":
        with target.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    rows: list[dict[str, Any]] = pq.read_table(target).to_pylist()
    return rows


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_a_failed_export_keeps_its_complete_pages(
    tmp_path: Path, sample: dict[str, Any], fmt: Any
) -> None:
    cases = make_cases(sample, 6)
    target = tmp_path / f"cases.{fmt}"
    target.write_bytes(b"previous export")
    settings = {"filters": {"status": ["open"]}}
    with pytest.raises(RuntimeError), CaseExport(target, fmt, settings=settings) as export:
        for case in cases[:3]:
            export.write(case)
        export.end_page(2, total_results=6, page_limit=3)
        export.write(cases[3])  # page 2 is not complete when the export fails
        raise RuntimeError("boom")
    assert target.read_bytes() == b"previous export"
    assert listing(tmp_path) == [
        target.name,
        f"{target.name}.partial",
        f"{target.name}.partial.json",
    ]
    kept = read_partial(target)
    assert kept == export.kept
    assert kept is not None
    assert (kept.next_page, kept.cases, kept.total_results, kept.page_limit) == (2, 3, 6, 3)
    assert kept.settings == settings
    key = "_id" if fmt == "jsonl" else "id"
    assert [line[key] for line in partial_lines(target)] == ["ci-0000", "ci-0001", "ci-sparse"]
    assert partial_path(target).stat().st_size == kept.size

    with CaseExport(target, fmt, resume=kept) as export:
        assert len(export.resumed_hashes) == 3
        assert hash("ci-0001") in export.resumed_hashes
        assert export.count == 3
        for case in cases[3:]:
            export.write(case)
    assert export.count == 6
    assert listing(tmp_path) == [target.name]
    rows = read_rows(target, fmt)
    assert [row[key] for row in rows] == [c["_id"] for c in cases]
    if fmt != "jsonl":  # the field column seen in the first run is still there, in place
        assert list(rows[0])[len(COLUMNS) :] == [
            "field:title", "field:description", "field:dueDate", "field:region"
        ]  # fmt: skip


def test_the_record_is_written_at_the_first_page_and_then_at_most_once_a_second(
    tmp_path: Path, sample: dict[str, Any]
) -> None:
    """So that a killed export (no cleanup at all) can still be continued."""
    target = tmp_path / "cases.jsonl"
    record = tmp_path / "cases.jsonl.partial.json"
    with CaseExport(target, "jsonl") as export:
        export.write(sample)
        assert not record.exists()
        export.end_page(2)
        first = read_partial(target)
        assert first is not None
        assert (first.next_page, first.cases) == (2, 1)
        export.write(sample)
        export.end_page(3)
        assert read_partial(target) == first  # not a second later yet
    assert listing(tmp_path) == ["cases.jsonl"]


def test_resuming_cuts_what_the_record_does_not_cover(
    tmp_path: Path, sample: dict[str, Any]
) -> None:
    target = tmp_path / "cases.jsonl"
    with pytest.raises(KeyboardInterrupt), CaseExport(target, "jsonl") as export:
        export.write(sample)
        export.end_page(2)
        raise KeyboardInterrupt
    with partial_path(target).open("ab") as partial:
        partial.write(b'{"_id": "a case cut sh')  # as a killed process leaves it
    kept = read_partial(target)
    assert kept is not None
    with CaseExport(target, "jsonl", resume=kept):
        pass
    assert read_rows(target, "jsonl") == [sample]


def test_partials_that_cannot_be_continued(tmp_path: Path, sample: dict[str, Any]) -> None:
    target = tmp_path / "cases.jsonl"
    partial, record = partial_path(target), tmp_path / "cases.jsonl.partial.json"
    assert read_partial(target) is None

    record.write_text("{}")
    assert read_partial(target) is None  # a record without data is dropped
    assert not record.exists()

    partial.write_bytes(b"")
    with pytest.raises(PartialError, match="has no record"):
        read_partial(target)

    record.write_text("not json")
    with pytest.raises(PartialError, match="cannot be read"):
        read_partial(target)

    record.write_text('{"format": "jsonl", "next_page": 2, "cases": 1, "size": 10}')
    with pytest.raises(PartialError, match=r"shorter than its record says \(0 < 10 bytes\)"):
        read_partial(target)

    partial.write_bytes(b"[1, 2, 3]\n")  # 10 bytes, one line, not a case
    kept = read_partial(target)
    assert kept is not None
    with (
        pytest.raises(PartialError, match="damaged at line 1"),
        CaseExport(target, "jsonl", resume=kept),
    ):
        pass
    assert partial.exists()  # still there to --restart


def test_a_new_export_never_writes_over_a_partial(tmp_path: Path) -> None:
    target = tmp_path / "cases.csv"
    partial_path(target).write_bytes(b"someone else's")
    with pytest.raises(FileExistsError), CaseExport(target, "csv"):
        pass
    assert partial_path(target).read_bytes() == b"someone else's"
