"""The response models: the documented sample decodes verbatim into typed, snake_case Structs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest

from kore_cases.models import (
    Case,
    CaseField,
    CasesPage,
    FieldMetaData,
    Priority,
    Status,
    UserInfo,
    UserRef,
    page_decoder,
)

SAMPLE_PATH = Path(__file__).parent / "data" / "sample_response.json"
SAMPLE = SAMPLE_PATH.read_bytes()
UTC = timezone.utc


def _page(*cases: dict[str, Any], **overrides: Any) -> bytes:
    body: dict[str, Any] = {
        "results": list(cases),
        "page": 1,
        "limit": 50,
        "hasMore": False,
        "totalPages": 1,
        "totalResults": len(cases),
    }
    body.update(overrides)
    return json.dumps(body).encode()


def _sample_case() -> dict[str, Any]:
    return json.loads(SAMPLE)["results"][0]


@pytest.fixture
def page() -> CasesPage[Case]:
    return page_decoder(Case).decode(SAMPLE)


@pytest.fixture
def case(page: CasesPage[Case]) -> Case:
    return page.results[0]


# -- the sample page -----------------------------------------------------------------


def test_sample_file_is_the_documented_sample() -> None:
    data = json.loads(SAMPLE)
    assert data["results"][0]["_id"] == "ci-1a634e1-3d97-427e-8b23-9b7b0a40xxxx"
    assert data["results"][0]["refId"] == "CS000100"
    assert len(data["results"][0]["fields"]) == 3


def test_cases_page_attributes(page: CasesPage[Case]) -> None:
    assert isinstance(page, CasesPage)
    assert len(page.results) == 1
    assert isinstance(page.results[0], Case)
    assert page.page == 1
    assert page.limit == 50
    assert page.has_more is False
    assert page.total_pages == 1
    assert page.total_results == 1


def test_case_identity_and_plain_fields(case: Case) -> None:
    assert case.id == "ci-1a634e1-3d97-427e-8b23-9b7b0a40xxxx"
    assert case.ref_id == "CS000100"
    assert case.case_tmp == "one"
    assert case.name == "case one"
    assert case.lname == "case one"
    assert case.desc == "this is case one"
    assert case.account_id == "{{accountId}}"
    assert case.i_id == "st-5393141c-723b-579d-8265-27dd9b7fxxxx"
    assert case.org_id == "o-a55026c9-2abd-5503-b212-5fba600axxxx"
    assert case.source == "emailInst-873db2e1-0b9a-58b0-87d6-7b26c3c8xxxx"
    assert case.language == "en"
    assert case.conversation_type == "CASE"
    assert case.assignee_type == "unassigned"
    assert case.is_active is True
    assert case.support_custom_tasks is True


def test_case_lists(case: Case) -> None:
    assert case.task_ids == ["ti-909aa90-0416-4407-aa5b-d60dd99axxxx"]
    for empty in (
        case.tags,
        case.sess_ids,
        case.conv_ids,
        case.participants,
        case.queues,
        case.attachments,
        case.feedback,
        case.activity_ids,
        case.comment_ids,
        case.resolution_cmts,
        case.channel,
    ):
        assert empty == []


def test_case_status(case: Case) -> None:
    status = case.status
    assert isinstance(status, Status)
    assert status.id == "sts-47a7230-2a07-4b84-879b-e792542cxxxx"
    assert status.name == "Open"
    assert status.lname == "open"
    assert status.status_category == "open"
    assert status.type == "system"
    assert status.desc == "When a new case/task is created"
    assert status.is_enabled is True
    assert status.is_active is True


def test_case_priority(case: Case) -> None:
    priority = case.priority
    assert isinstance(priority, Priority)
    assert priority.id == "pr-9d1a24a-1385-45e9-818b-295eab5bxxxx"
    assert priority.name == "Medium"
    assert priority.lname == "medium"
    assert priority.color == "#16A34A"
    assert priority.desc == "Moderate urgency"
    assert priority.score == 10
    assert type(priority.score) is int
    assert priority.is_enabled is True


def test_case_people(case: Case) -> None:
    assert isinstance(case.user_info, UserInfo)
    assert case.user_info.id == "u-d0db86ae-8a26-51dd-a6d6-5d531c39xxxx"
    assert case.user_info.name == ""
    assert case.user_info.email_id == "goutham.898@gmail.com"
    for who in (case.created_by, case.updated_by):
        assert isinstance(who, UserRef)
        assert who.name == "pachu 23"
        assert who.id == "u-429cc190-ccc9-57af-9421-a1ca84a2xxxx"
        assert who.prof_image == "no-avatar"
    # "currAssignee": {} is an assignee with nothing known about it.
    assert case.curr_assignee == UserRef()
    assert case.curr_assignee.id is None


def test_case_fields(case: Case) -> None:
    assert len(case.fields) == 3
    title, description, due = case.fields
    assert all(isinstance(f, CaseField) for f in case.fields)
    assert title.id == "fd-a97ae13-ac3e-4496-b251-db594d8bxxxx"
    assert title.show is True
    assert title.display_name == "Title"
    assert title.lname == "title"
    assert title.desc == "Title of the field"
    assert title.type == "system"
    assert title.required is True
    assert title.is_enabled is True
    assert title.selected_value == "case one"
    assert isinstance(title.meta_data, FieldMetaData)
    assert title.meta_data.name == "title"
    assert title.meta_data.type == "input"
    assert title.meta_data.display_name == "Title"
    assert title.meta_data.placeholder == "Enter title"
    assert title.meta_data.read_only is False
    assert title.meta_data.tooltip_text == "Title of the field"
    assert title.meta_data.description == "Title of the field"
    assert description.selected_value == "this is case one"
    assert description.meta_data is not None
    assert description.meta_data.type == "textarea"
    assert due.meta_data is not None
    assert due.meta_data.name == "dueDate"
    assert due.meta_data.type == "datetime"
    assert due.selected_value == "2025-05-29T04:03:00.000Z"


def test_case_dates_are_timezone_aware(case: Case) -> None:
    assert case.created_at == datetime(2025, 5, 27, 4, 3, 42, 617000, tzinfo=UTC)
    assert case.updated_at == datetime(2025, 5, 27, 4, 3, 42, 666000, tzinfo=UTC)
    assert case.eta == datetime(2025, 5, 29, 4, 3, tzinfo=UTC)
    for value in (case.created_at, case.updated_at, case.eta):
        assert isinstance(value, datetime)
        assert value.tzinfo is not None
        assert value.utcoffset() == timedelta(0)


def test_case_epoch_fields(case: Case) -> None:
    assert case.due_date == 1748491380000
    assert type(case.due_date) is int
    assert case.timestamp_value == 1748318622557
    assert type(case.timestamp_value) is int
    assert case.is_breached is False
    assert case.due_at == datetime(2025, 5, 29, 4, 3, tzinfo=UTC)
    assert case.due_at is not None
    assert case.due_at.utcoffset() == timedelta(0)
    # The documented sample's dueDate and ETA are the same instant.
    assert case.due_at == case.eta


def test_due_at_is_none_without_due_date() -> None:
    case = msgspec.convert({"_id": "ci-1"}, Case)
    assert case.due_date is None
    assert case.due_at is None


def test_due_at_keeps_milliseconds() -> None:
    case = msgspec.json.decode(b'{"_id": "ci-1", "dueDate": 1748491380123}', type=Case)
    assert case.due_at == datetime(2025, 5, 29, 4, 3, 0, 123000, tzinfo=UTC)


# -- field_value ---------------------------------------------------------------------


def test_field_value_by_meta_data_name(case: Case) -> None:
    assert case.field_value("dueDate") == "2025-05-29T04:03:00.000Z"
    assert case.field_value("title") == "case one"
    assert case.field_value("description") == "this is case one"


def test_field_value_by_display_name_ignoring_case(case: Case) -> None:
    assert case.field_value("Due Date") == "2025-05-29T04:03:00.000Z"
    assert case.field_value("due date") == "2025-05-29T04:03:00.000Z"
    assert case.field_value("DESCRIPTION") == "this is case one"


def test_field_value_missing_returns_default(case: Case) -> None:
    assert case.field_value("nope") is None
    sentinel = object()
    assert case.field_value("nope", sentinel) is sentinel
    assert case.field_value("nope", default="x") == "x"


def test_field_value_prefers_meta_data_name_over_display_name() -> None:
    case = msgspec.convert(
        {
            "_id": "ci-1",
            "fields": [
                {"displayName": "dueDate", "selectedValue": "by display name"},
                {"metaData": {"name": "dueDate"}, "selectedValue": "by meta name"},
            ],
        },
        Case,
    )
    assert case.field_value("dueDate") == "by meta name"


def test_field_value_without_fields() -> None:
    case = msgspec.convert({"_id": "ci-1"}, Case)
    assert case.field_value("dueDate") is None
    assert case.field_value("dueDate", 0) == 0


# -- leniency about presence ---------------------------------------------------------


def test_unknown_fields_are_ignored() -> None:
    raw = _sample_case()
    raw["brandNewField"] = {"nested": [1, 2, 3]}
    raw["status"]["colour"] = "green"
    raw["fields"][0]["metaData"]["validation"] = {"regex": ".*"}
    body = _page(raw, serverVersion="11.2", nextCursor=None)
    page = page_decoder(Case).decode(body)
    assert page.results[0].id == raw["_id"]
    assert page.results[0].status is not None
    assert page.results[0].status.name == "Open"


def test_minimal_case_has_defaults() -> None:
    page = page_decoder(Case).decode(_page({"_id": "ci-min"}))
    case = page.results[0]
    assert case.id == "ci-min"
    assert case.status is None
    assert case.priority is None
    assert case.eta is None
    assert case.created_at is None
    assert case.fields == []
    assert case.task_ids == []
    assert case.user_info is None
    assert case.curr_assignee is None


def test_null_optional_parts_do_not_fail() -> None:
    raw = _sample_case()
    for key in ("status", "priority", "ETA", "userInfo", "createdBy", "currAssignee", "dueDate"):
        raw[key] = None
    del raw["fields"]
    del raw["createdAt"]
    page = page_decoder(Case).decode(_page(raw))
    case = page.results[0]
    assert case.status is None
    assert case.priority is None
    assert case.eta is None
    assert case.user_info is None
    assert case.created_by is None
    assert case.curr_assignee is None
    assert case.due_at is None
    assert case.created_at is None
    assert case.fields == []
    assert case.ref_id == "CS000100"


@pytest.mark.parametrize("key", ["fields", "taskIds", "tags"])
def test_null_lists_decode_to_none_and_missing_ones_to_empty(key: str) -> None:
    # models.py promises: every part of a case but its `_id` may be missing or `null`;
    # a missing list is empty, a null one is None.
    attribute = {"fields": "fields", "taskIds": "task_ids", "tags": "tags"}[key]
    raw = _sample_case()
    raw[key] = None
    case = page_decoder(Case).decode(_page(raw)).results[0]
    assert getattr(case, attribute) is None
    expected_due = "absent" if key == "fields" else "2025-05-29T04:03:00.000Z"
    assert case.field_value("dueDate", "absent") == expected_due
    del raw[key]
    case = page_decoder(Case).decode(_page(raw)).results[0]
    assert getattr(case, attribute) == []


def test_null_parts_inside_fields() -> None:
    raw = {"_id": "ci-1", "fields": [{"metaData": None, "selectedValue": None}]}
    case = page_decoder(Case).decode(_page(raw)).results[0]
    assert case.fields[0].meta_data is None
    assert case.field_value("anything") is None


def test_selected_value_keeps_any_json_type() -> None:
    raw = {
        "_id": "ci-1",
        "fields": [
            {"metaData": {"name": "n"}, "selectedValue": 3},
            {"metaData": {"name": "l"}, "selectedValue": ["a", "b"]},
            {"metaData": {"name": "o"}, "selectedValue": {"k": True}},
        ],
    }
    case = page_decoder(Case).decode(_page(raw)).results[0]
    assert case.field_value("n") == 3
    assert case.field_value("l") == ["a", "b"]
    assert case.field_value("o") == {"k": True}


def test_date_with_offset_is_kept_aware() -> None:
    case = msgspec.json.decode(
        b'{"_id": "ci-1", "createdAt": "2025-05-27T09:33:42+05:30"}', type=Case
    )
    assert case.created_at == datetime(2025, 5, 27, 4, 3, 42, tzinfo=UTC)
    assert case.created_at is not None
    assert case.created_at.utcoffset() == timedelta(hours=5, minutes=30)


# -- strictness about meaning --------------------------------------------------------


def test_case_without_id_fails_with_its_path() -> None:
    raw = _sample_case()
    del raw["_id"]
    with pytest.raises(msgspec.ValidationError, match=r"\$\.results\[0\]") as info:
        page_decoder(Case).decode(_page(raw))
    assert "_id" in str(info.value)


def test_second_case_without_id_names_index_1() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.results\[1\]"):
        page_decoder(Case).decode(_page({"_id": "a"}, {"refId": "b"}))


@pytest.mark.parametrize(
    ("key", "value", "path"),
    [
        ("createdAt", "yesterday", r"\$\.results\[0\]\.createdAt"),
        ("dueDate", "soon", r"\$\.results\[0\]\.dueDate"),
        ("isBreached", "no", r"\$\.results\[0\]\.isBreached"),
        ("status", "Open", r"\$\.results\[0\]\.status"),
        ("fields", {"a": 1}, r"\$\.results\[0\]\.fields"),
        ("ETA", 5, r"\$\.results\[0\]\.ETA"),
    ],
)
def test_wrong_types_fail_with_their_path(key: str, value: Any, path: str) -> None:
    raw = _sample_case()
    raw[key] = value
    with pytest.raises(msgspec.ValidationError, match=path):
        page_decoder(Case).decode(_page(raw))


@pytest.mark.parametrize(
    "key", ["results", "page", "limit", "hasMore", "totalPages", "totalResults"]
)
def test_page_envelope_fields_are_required(key: str) -> None:
    data = json.loads(SAMPLE)
    del data[key]
    with pytest.raises(msgspec.ValidationError, match=key):
        page_decoder(Case).decode(json.dumps(data).encode())


def test_malformed_json_is_a_decode_error() -> None:
    with pytest.raises(msgspec.DecodeError):
        page_decoder(Case).decode(SAMPLE[:-10])


# -- other models, caching ------------------------------------------------------------


class CaseRow(msgspec.Struct, rename="camel"):
    id: str = msgspec.field(name="_id")
    ref_id: str | None = None
    created_at: datetime | None = None


def test_projection_struct() -> None:
    page = page_decoder(CaseRow).decode(SAMPLE)
    assert page.total_results == 1
    row = page.results[0]
    assert isinstance(row, CaseRow)
    assert row.id == "ci-1a634e1-3d97-427e-8b23-9b7b0a40xxxx"
    assert row.ref_id == "CS000100"
    assert row.created_at == datetime(2025, 5, 27, 4, 3, 42, 617000, tzinfo=UTC)


def test_dict_model_keeps_wire_names() -> None:
    page = page_decoder(dict).decode(SAMPLE)
    row = page.results[0]
    assert isinstance(row, dict)
    assert row["_id"] == "ci-1a634e1-3d97-427e-8b23-9b7b0a40xxxx"
    assert row["refId"] == "CS000100"
    assert row["status"]["statusCategory"] == "open"
    assert row == json.loads(SAMPLE)["results"][0]


def test_raw_model_keeps_each_case_as_bytes() -> None:
    page = page_decoder(msgspec.Raw).decode(SAMPLE)
    raw = page.results[0]
    assert isinstance(raw, msgspec.Raw)
    assert msgspec.json.decode(raw)["refId"] == "CS000100"


def test_a_plain_cases_page_decodes_to_cases() -> None:
    # What a user writes without reading page_decoder's docs.
    page = msgspec.json.decode(SAMPLE, type=CasesPage)
    assert isinstance(page.results[0], Case)
    assert page.results[0] == page_decoder().decode(SAMPLE).results[0]


def test_a_parametrised_cases_page_decodes_to_its_parameter() -> None:
    class Projection(msgspec.Struct):
        name: str

    assert msgspec.json.decode(SAMPLE, type=CasesPage[Projection]).results[0] == Projection(
        name=_sample_case()["name"]
    )
    assert isinstance(msgspec.json.decode(SAMPLE, type=CasesPage[dict]).results[0], dict)
    raw = msgspec.json.decode(SAMPLE, type=CasesPage[msgspec.Raw]).results[0]
    assert json.loads(bytes(raw))["_id"] == _sample_case()["_id"]


def test_decoder_is_cached() -> None:
    assert page_decoder(Case) is page_decoder(Case)
    assert page_decoder(CaseRow) is page_decoder(CaseRow)
    assert page_decoder(dict) is page_decoder(dict)
    assert page_decoder(CaseRow) is not page_decoder(Case)
    assert isinstance(page_decoder(Case), msgspec.json.Decoder)


def test_decoder_is_one_per_type_however_called() -> None:
    # DESIGN.md: "one cached Decoder per type"; the default and keyword spellings of
    # the same model must not build separate decoders.
    assert page_decoder() is page_decoder(Case)
    assert page_decoder(model=Case) is page_decoder(Case)


def test_models_are_structs_with_snake_case_attributes() -> None:
    for model in (Case, CaseField, FieldMetaData, Priority, Status, UserInfo, UserRef):
        assert issubclass(model, msgspec.Struct)
        assert all(name == name.lower() for name in model.__struct_fields__)
    encoded = json.loads(msgspec.json.encode(msgspec.convert({"_id": "x", "refId": "r"}, Case)))
    assert encoded["_id"] == "x"
    assert encoded["refId"] == "r"
