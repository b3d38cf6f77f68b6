"""CaseFilter: encoding to the request body and validation before any request."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from kore_cases import CaseFilter

UTC = timezone.utc
IST = timezone(timedelta(hours=5, minutes=30))

LIST_FIELDS = ["priority", "status", "channel", "queues"]
BOOL_FIELDS = [("unresolved", "unresolved"), ("unassigned", "unassigned"), ("my_case", "mycase")]
DATE_FIELDS = [("start_date", "startDate"), ("end_date", "endDate"), ("due_date", "dueDate")]


# -- encoding ------------------------------------------------------------------------


def test_empty_filter_sends_nothing() -> None:
    assert CaseFilter().to_body() == {}


def test_search_text() -> None:
    assert CaseFilter(search_text="printer on fire").to_body() == {"searchText": "printer on fire"}


@pytest.mark.parametrize(("name", "wire"), BOOL_FIELDS)
@pytest.mark.parametrize("value", [True, False])
def test_bool_fields(name: str, wire: str, value: bool) -> None:
    body = CaseFilter(**{name: value}).to_body()
    # False is a real filter value, not "unset": it must be sent.
    assert body == {wire: value}
    assert body[wire] is value


def test_my_case_is_sent_as_mycase() -> None:
    body = CaseFilter(my_case=True).to_body()
    assert body == {"mycase": True}
    assert "my_case" not in body
    assert "myCase" not in body


@pytest.mark.parametrize("name", LIST_FIELDS)
def test_list_fields(name: str) -> None:
    assert CaseFilter(**{name: ["a", "b"]}).to_body() == {name: ["a", "b"]}
    assert CaseFilter(**{name: ("a",)}).to_body() == {name: ["a"]}
    assert CaseFilter(**{name: []}).to_body() == {name: []}


def test_list_fields_accept_sets() -> None:
    body = CaseFilter(status={"open", "new"}).to_body()
    assert isinstance(body["status"], list)
    assert sorted(body["status"]) == ["new", "open"]


def test_list_is_copied_at_construction() -> None:
    statuses = ["open"]
    flt = CaseFilter(status=statuses)
    statuses.append("closed")
    assert flt.to_body() == {"status": ["open"]}
    body = flt.to_body()
    body["status"].append("new")
    assert flt.to_body() == {"status": ["open"]}


@pytest.mark.parametrize(("name", "wire"), DATE_FIELDS)
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2025, 5, 29, 4, 3, tzinfo=UTC), "2025-05-29T04:03:00.000Z"),
        (datetime(2025, 5, 29, 9, 33, tzinfo=IST), "2025-05-29T04:03:00.000Z"),
        (datetime(2025, 5, 29, 4, 3, 0, 123456, tzinfo=UTC), "2025-05-29T04:03:00.123Z"),
        (
            datetime(2025, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))),
            "2024-12-31T23:00:00.000Z",
        ),
        ("2025-05-29T04:03:00Z", "2025-05-29T04:03:00.000Z"),
        ("2025-05-29T04:03:00z", "2025-05-29T04:03:00.000Z"),
        ("2025-05-29T04:03:00.000Z", "2025-05-29T04:03:00.000Z"),
        ("2025-05-29T09:33:00+05:30", "2025-05-29T04:03:00.000Z"),
        ("2025-05-28T23:03:00-05:00", "2025-05-29T04:03:00.000Z"),
        (" 2025-05-29T04:03:00Z ", "2025-05-29T04:03:00.000Z"),
        ("2025-05-29", "2025-05-29T00:00:00.000Z"),
        (date(2025, 5, 29), "2025-05-29T00:00:00.000Z"),
    ],
)
def test_date_fields(name: str, wire: str, value: Any, expected: str) -> None:
    assert CaseFilter(**{name: value}).to_body() == {wire: expected}


def test_sort_by_string() -> None:
    assert CaseFilter(sort_by="createdDate").to_body() == {"sortBy": "createdDate"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"createdDate": "desc"}, {"createdDate": "desc"}),
        ({"createdDate": "DESC"}, {"createdDate": "desc"}),
        ({"dueDate": "Asc"}, {"dueDate": "asc"}),
    ],
)
def test_sort_by_mapping_lowercases_direction(value: Any, expected: Any) -> None:
    body = CaseFilter(sort_by=value).to_body()
    assert body == {"sortBy": expected}
    assert type(body["sortBy"]) is dict


def test_every_field_at_once() -> None:
    flt = CaseFilter(
        search_text="printer",
        unresolved=True,
        unassigned=False,
        my_case=True,
        priority=["high", "medium"],
        status=["open", "new"],
        channel=["email", "chat"],
        queues=["SupportQueue1"],
        start_date=datetime(2025, 1, 1, tzinfo=UTC),
        end_date="2025-06-30T23:59:59.999Z",
        sort_by={"createdDate": "DESC"},
        due_date=date(2025, 7, 1),
    )
    assert flt.to_body() == {
        "searchText": "printer",
        "unresolved": True,
        "unassigned": False,
        "mycase": True,
        "priority": ["high", "medium"],
        "status": ["open", "new"],
        "channel": ["email", "chat"],
        "queues": ["SupportQueue1"],
        "startDate": "2025-01-01T00:00:00.000Z",
        "endDate": "2025-06-30T23:59:59.999Z",
        "sortBy": {"createdDate": "desc"},
        "dueDate": "2025-07-01T00:00:00.000Z",
    }


def test_unset_fields_are_absent() -> None:
    body = CaseFilter(status=["open"], end_date="2025-01-01").to_body()
    assert set(body) == {"status", "endDate"}


def test_filter_is_frozen_and_comparable() -> None:
    flt = CaseFilter(status=["open"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        flt.status = ["closed"]  # type: ignore[misc]
    assert flt == CaseFilter(status=("open",))
    assert hash(flt) == hash(CaseFilter(status=["open"]))


def test_start_date_equal_to_end_date_is_allowed() -> None:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    assert CaseFilter(start_date=when, end_date="2025-01-01T05:30:00+05:30").to_body() == {
        "startDate": "2025-01-01T00:00:00.000Z",
        "endDate": "2025-01-01T00:00:00.000Z",
    }


# -- validation ------------------------------------------------------------------------


@pytest.mark.parametrize("value", [5, b"text", ["a"], True])
def test_search_text_must_be_str(value: Any) -> None:
    with pytest.raises(TypeError, match="search_text"):
        CaseFilter(search_text=value)


@pytest.mark.parametrize(("name", "wire"), BOOL_FIELDS)
@pytest.mark.parametrize("value", ["yes", "true", 1, 0, [True]])
def test_bool_fields_must_be_bool(name: str, wire: str, value: Any) -> None:
    with pytest.raises(TypeError, match=name):
        CaseFilter(**{name: value})


@pytest.mark.parametrize("name", LIST_FIELDS)
def test_bare_string_for_a_list_field_suggests_a_list(name: str) -> None:
    with pytest.raises(TypeError) as info:
        CaseFilter(**{name: "open"})
    message = str(info.value)
    assert name in message
    assert "list" in message
    # It shows what to write instead: field=['open'].
    assert f"{name}=['open']" in message


@pytest.mark.parametrize("name", LIST_FIELDS)
def test_bytes_for_a_list_field_is_refused(name: str) -> None:
    with pytest.raises(TypeError, match=name):
        CaseFilter(**{name: b"open"})


@pytest.mark.parametrize("name", LIST_FIELDS)
@pytest.mark.parametrize("value", [5, {"open": 1}, True])
def test_list_field_of_wrong_type(name: str, value: Any) -> None:
    with pytest.raises(TypeError, match=name):
        CaseFilter(**{name: value})


@pytest.mark.parametrize("name", LIST_FIELDS)
@pytest.mark.parametrize("items", [[""], ["open", ""], [1], ["open", None]])
def test_list_items_must_be_non_empty_strings(name: str, items: list[Any]) -> None:
    with pytest.raises((TypeError, ValueError), match=name):
        CaseFilter(**{name: items})


@pytest.mark.parametrize(("name", "wire"), DATE_FIELDS)
def test_naive_datetime_is_refused(name: str, wire: str) -> None:
    with pytest.raises(ValueError, match=name) as info:
        CaseFilter(**{name: datetime(2025, 1, 1)})
    assert "naive" in str(info.value)


@pytest.mark.parametrize(("name", "wire"), DATE_FIELDS)
@pytest.mark.parametrize(
    "value", ["yesterday", "2025-13-01", "2025-02-30", "29/05/2025", "", "2025"]
)
def test_unparsable_date_is_refused(name: str, wire: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        CaseFilter(**{name: value})


@pytest.mark.parametrize(("name", "wire"), DATE_FIELDS)
@pytest.mark.parametrize(
    "value", ["2025-05-29T04:03:00", "2025-05-29T04:03:00.000", "2025-05-29 04:03"]
)
def test_date_time_string_without_timezone_is_refused(name: str, wire: str, value: str) -> None:
    with pytest.raises(ValueError, match=name) as info:
        CaseFilter(**{name: value})
    assert "time zone" in str(info.value)


@pytest.mark.parametrize(("name", "wire"), DATE_FIELDS)
@pytest.mark.parametrize("value", [1748491380000, 1.5, True, ["2025-01-01"]])
def test_date_of_wrong_type(name: str, wire: str, value: Any) -> None:
    with pytest.raises(TypeError, match=name):
        CaseFilter(**{name: value})


@pytest.mark.parametrize("direction", ["up", "descending", "", 1, None])
def test_bad_sort_direction(direction: Any) -> None:
    with pytest.raises(ValueError, match="sort_by") as info:
        CaseFilter(sort_by={"createdDate": direction})
    assert "asc" in str(info.value)
    assert "desc" in str(info.value)


def test_sort_by_with_two_keys() -> None:
    with pytest.raises(TypeError, match="sort_by"):
        CaseFilter(sort_by={"createdDate": "desc", "dueDate": "asc"})


def test_sort_by_empty_mapping() -> None:
    with pytest.raises(TypeError, match="sort_by"):
        CaseFilter(sort_by={})


@pytest.mark.parametrize("value", [5, ["createdDate"], ("createdDate", "desc"), True])
def test_sort_by_of_wrong_type(value: Any) -> None:
    with pytest.raises(TypeError, match="sort_by"):
        CaseFilter(sort_by=value)


@pytest.mark.parametrize("value", ["", "created date", "createdDate; drop", "1abc", '{"a":1}'])
def test_sort_by_bad_field_name(value: str) -> None:
    with pytest.raises(ValueError, match="sort_by"):
        CaseFilter(sort_by=value)


@pytest.mark.parametrize("field_name", ["", "created date", 5])
def test_sort_by_mapping_bad_field_name(field_name: Any) -> None:
    with pytest.raises(ValueError, match="sort_by"):
        CaseFilter(sort_by={field_name: "asc"})


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-02-01", "2025-01-31"),
        (date(2025, 2, 1), "2025-01-31T23:59:59Z"),
        # 00:30 in India is the previous day 19:00 UTC: compare instants, not wall times.
        ("2025-01-01T00:30:00+05:30", "2024-12-31T18:00:00Z"),
    ],
)
def test_start_date_after_end_date(start: Any, end: Any) -> None:
    with pytest.raises(ValueError, match="start_date") as info:
        CaseFilter(start_date=start, end_date=end)
    assert "end_date" in str(info.value)


def test_filter_takes_keywords_only() -> None:
    with pytest.raises(TypeError):
        CaseFilter("text")  # type: ignore[misc]
