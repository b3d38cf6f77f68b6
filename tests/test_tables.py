"""Pulls as Arrow: ``iter_record_batches()`` and ``to_arrow()``, with the CLI's flat schema.

Served by the project's own pytest plugin (``kore_server``, ``kore_client``), as a user's
tests would be.
"""

from __future__ import annotations

import io
import math
import sys
from datetime import datetime, timezone
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kore_cases import CaseFilter, CasesClient, MissingExtraError, Request, Response
from kore_cases._export import CaseExport
from kore_cases.tables import FLAT_COLUMNS, flat_record_batch, flat_row, flat_schema
from kore_cases.testing import FakeKoreServer, MockTransport

UTC_MS = pa.timestamp("ms", tz="UTC")


@pytest.mark.kore_server(cases=230, seed=5)
async def test_to_arrow_holds_every_case_with_typed_columns(
    kore_client: CasesClient, kore_server: FakeKoreServer
) -> None:
    table = await kore_client.to_arrow()
    cases = [case async for case in kore_client.iter_cases()]
    assert table.num_rows == 230
    assert table.column("id").to_pylist() == kore_server.case_ids()
    assert table.column_names[: len(FLAT_COLUMNS)] == list(FLAT_COLUMNS)
    assert table.schema.field("created_at").type == UTC_MS
    assert table.schema.field("due_at").type == UTC_MS
    assert table.schema.field("queues").type == pa.list_(pa.string())
    assert table.schema.field("is_breached").type == pa.bool_()
    first = cases[0]
    row = table.slice(0, 1).to_pylist()[0]
    assert row["created_at"] == first.created_at
    assert row["due_at"] == first.due_at
    assert row["status"] == (first.status.name if first.status else None)
    assert row["queues"] == [q["name"] for q in first.queues or ()]
    assert row["field:dueDate"] == first.field_value("dueDate")


@pytest.mark.kore_server(cases=100)
@pytest.mark.kore_client(page_size=40)
async def test_one_record_batch_per_page(
    kore_client: CasesClient, kore_server: FakeKoreServer
) -> None:
    batches = kore_client.iter_record_batches(CaseFilter(unresolved=True))
    sizes = [batch.num_rows async for batch in batches]
    expected = len(kore_server.case_ids({"unresolved": True}))
    assert sum(sizes) == expected
    assert sizes == [40] * (expected // 40) + ([expected % 40] if expected % 40 else [])
    assert batches.stats.requests == math.ceil(expected / 40)


@pytest.mark.kore_server(cases=120, seed=2)
async def test_the_table_has_the_schema_and_values_of_the_cli_parquet_export(
    kore_client: CasesClient,
) -> None:
    table = await kore_client.to_arrow()
    out = io.BytesIO()
    export = CaseExport(None, "parquet", stream=out)
    with export:
        async for page in kore_client.iter_pages(model=dict):
            for case in page.results:
                export.write(case)
    exported = pq.read_table(io.BytesIO(out.getvalue()))
    assert exported.schema.equals(table.schema)
    assert exported.equals(table)


@pytest.mark.kore_server(cases=230, seed=5)
@pytest.mark.kore_client(page_size=50)
async def test_string_view_tables_hold_the_rows_of_the_default_types(
    kore_client: CasesClient,
) -> None:
    table = await kore_client.to_arrow(raw=True)
    viewed = await kore_client.to_arrow(raw=True, string_view=True)
    batches = [b async for b in kore_client.iter_record_batches(string_view=True)]
    assert viewed.column_names == table.column_names
    for field in viewed.schema:
        expected = table.schema.field(field.name).type
        if expected == pa.string():
            expected = pa.string_view()
        elif expected == pa.list_(pa.string()):
            expected = pa.large_list(pa.string_view())
        assert field.type == expected, field.name
    assert viewed.to_pylist() == table.to_pylist()
    assert [b.num_rows for b in batches] == [50, 50, 50, 50, 30]
    assert pa.Table.from_batches(batches).to_pylist() == table.drop_columns("raw").to_pylist()


@pytest.mark.parametrize("string_view", [False, True])
async def test_field_columns_appear_as_met_and_are_null_before(string_view: bool) -> None:
    pages = {
        1: [{"_id": "a", "fields": [{"metaData": {"name": "region"}, "selectedValue": "EU"}]}],
        2: [{"_id": "b", "fields": [{"metaData": {"name": "tier"}, "selectedValue": 3}]}],
    }

    def handler(request: Request) -> Response:
        page = request.json()["page"]
        body = {"results": pages[page], "page": page, "limit": 1, "hasMore": page < 2}
        return Response(200, json={**body, "totalPages": 2, "totalResults": 2})

    transport = MockTransport(handler)
    async with CasesClient("https://kore.example", "st-1", "acct", "t", transport=transport) as c:
        batches = [
            b
            async for b in c.iter_record_batches(field_columns=["field:x"], string_view=string_view)
        ]
        table = await c.to_arrow(string_view=string_view)
    assert batches[0].schema.names[len(FLAT_COLUMNS) :] == ["field:x", "field:region"]
    assert batches[1].schema.names[len(FLAT_COLUMNS) :] == [
        "field:x",
        "field:region",
        "field:tier",
    ]
    assert table.column("field:region").to_pylist() == ["EU", None]
    assert table.column("field:tier").to_pylist() == [None, "3"]  # non-strings as JSON


@pytest.mark.kore_server(cases=30)
@pytest.mark.kore_client(page_size=10)
async def test_raw_holds_each_case_as_the_api_sent_it(kore_client: CasesClient) -> None:
    table = await kore_client.to_arrow(raw=True)
    sent = [case async for case in kore_client.iter_cases(model=dict)]
    assert table.column_names[-1] == "raw"
    assert [msgspec.json.decode(raw) for raw in table.column("raw").to_pylist()] == sent


@pytest.mark.kore_server(cases=100)
@pytest.mark.kore_client(page_size=20)
async def test_max_items_cuts_the_last_batch(
    kore_client: CasesClient, kore_server: FakeKoreServer
) -> None:
    table = await kore_client.to_arrow(max_items=55)
    assert table.column("id").to_pylist() == kore_server.case_ids()[:55]
    assert kore_server.stats.requests == 3


@pytest.mark.kore_server(cases=10)
async def test_missing_pyarrow_names_the_extra_before_any_request(
    monkeypatch: pytest.MonkeyPatch, kore_client: CasesClient, kore_server: FakeKoreServer
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'kore-cases\[parquet\]'"):
        await kore_client.to_arrow()
    with pytest.raises(MissingExtraError, match="iter_record_batches"):
        kore_client.iter_record_batches()
    assert kore_server.stats.requests == 0


def test_flat_record_batch_of_odd_values() -> None:
    rows = [
        flat_row({"_id": "x", "createdAt": "not a time", "dueDate": "soon", "isBreached": 1}),
        flat_row({"_id": "y", "createdAt": "2025-05-26T18:30:00.000Z", "dueDate": 0}),
    ]
    batch = flat_record_batch(rows)
    assert batch.schema.equals(flat_schema())
    assert batch.column("created_at").to_pylist() == [
        None,
        datetime(2025, 5, 26, 18, 30, tzinfo=timezone.utc),
    ]
    assert batch.column("due_at").to_pylist() == [None, datetime(1970, 1, 1, tzinfo=timezone.utc)]
    assert batch.column("is_breached").to_pylist() == [None, None]


def test_flat_schema_puts_raw_last() -> None:
    schema: Any = flat_schema(["field:a"], raw=True)
    assert schema.names == [*FLAT_COLUMNS, "field:a", "raw"]
