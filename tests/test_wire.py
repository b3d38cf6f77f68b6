"""Kore's wire facts written once (_wire): the timestamp format and the getCases path.

The last test sends dates to a local server: they go out in the form Kore documents.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from aiohttp import web
from helpers import page_payload, serve

from kore_cases import CaseFilter, CasesClient
from kore_cases._export._rows import iso_from_ms
from kore_cases._wire import (
    GET_CASES_PATH,
    kore_time,
    kore_time_from_ms,
    ms_from_datetime,
    ms_from_kore_time,
    parse_kore_time,
)
from kore_cases.testing._data import iso_ms


def test_kore_time_is_utc_with_milliseconds_and_z() -> None:
    moment = datetime(
        2025, 5, 27, 0, 0, 0, 123_999, tzinfo=timezone(timedelta(hours=5, minutes=30))
    )
    assert kore_time(moment) == "2025-05-26T18:30:00.123Z"


def test_kore_time_pads_early_years() -> None:
    assert kore_time(datetime(999, 1, 2, tzinfo=timezone.utc)) == "0999-01-02T00:00:00.000Z"


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_748_491_380_617, "2025-05-29T04:03:00.617Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        # A float second count would round this to .000 of the next second.
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
    ],
)
def test_epoch_milliseconds_are_exact(ms: int, text: str) -> None:
    assert kore_time_from_ms(ms) == text


def test_filters_exports_and_the_fake_server_write_the_same_form() -> None:
    ms = 1_748_491_380_617
    moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)
    sent = CaseFilter(start_date=moment).to_body()["startDate"]
    exported = iso_from_ms(ms)  # a CSV export's due_at
    assert sent == exported == iso_ms(ms) == kore_time_from_ms(ms)


def test_an_out_of_range_time_is_exported_as_the_number() -> None:
    assert iso_from_ms(10**20) == str(10**20)


def test_the_client_and_the_fake_server_share_the_path() -> None:
    assert GET_CASES_PATH.format(stream_id="st-1") == (
        "/caseManagement/api/public/analytics/st-1/getCases"
    )


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2025-05-29T04:03:00.617Z", 1_748_491_380_617),
        ("2025-05-29T09:33:00.617+05:30", 1_748_491_380_617),
        ("2025-05-29T04:03:00", None),  # no zone: not a time Kore sends
        ("yesterday", None),
        (None, None),
    ],
)
def test_times_in_answers_are_read_leniently(text: str | None, ms: int | None) -> None:
    moment = parse_kore_time(text)
    assert (None if moment is None else ms_from_datetime(moment)) == ms


async def test_dates_are_sent_as_kore_documents_them() -> None:
    bodies: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        return web.json_response(page_payload(results=[], total_pages=0))

    flt = CaseFilter(start_date=date(2025, 1, 1), end_date="2025-02-01", due_date="2025-03-01")
    async with (
        serve(handler) as url,
        CasesClient(url, "st-1", "acc", "tok", rate_limit=None) as client,
    ):
        await client.get_page(flt)
    assert bodies[0]["startDate"] == "2025-01-01T00:00:00.000Z"
    assert bodies[0]["endDate"] == "2025-02-01T00:00:00.000Z"
    assert bodies[0]["dueDate"] == "2025-03-01T00:00:00.000Z"


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1970-01-01T00:00:00.001Z", 1),
        ("2025-05-01T10:00:00.123+02:00", 1746086400123),
        ("2025-05-01T10:00:00", None),  # no zone: not an instant
        ("yesterday", None),
        (None, None),
    ],
)
def test_ms_from_kore_time_is_the_instant_or_none(text: str | None, ms: int | None) -> None:
    assert ms_from_kore_time(text) == ms
