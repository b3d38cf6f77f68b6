"""Typed models of the Get Cases response, as msgspec Structs.

Attributes are snake_case (``ref_id`` for ``refId``, ``id`` for ``_id``, ``eta`` for
``ETA``). The models are lenient about presence and strict about meaning:

* unknown fields are ignored, so a field the server adds tomorrow breaks nothing;
* every part of a case but its ``_id`` may be missing or ``null``: a missing list is
  empty, a ``null`` one is ``None``; any other missing or ``null`` part is ``None``;
* a field that is present must have its documented type: ``createdAt`` must be an
  ISO-8601 date-time, ``dueDate`` a number, and so on.

Decoding goes from the response bytes straight into these types through one cached
:class:`msgspec.json.Decoder` per model (:func:`page_decoder`), which is several times
faster than ``json.loads`` and far faster than building pydantic models.

To decode less, pass your own Struct with only the fields you need as ``model=`` to
:meth:`kore_cases.CasesClient.iter_cases`; it decodes about three times faster::

    class CaseRow(msgspec.Struct, rename="camel"):
        id: str = msgspec.field(name="_id")
        ref_id: str | None = None
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

__all__ = [
    "Case",
    "CaseField",
    "CasesPage",
    "FieldMetaData",
    "Priority",
    "Status",
    "UserInfo",
    "UserRef",
    "page_decoder",
]


class _Model(msgspec.Struct, rename="camel", kw_only=True, repr_omit_defaults=True, gc=False):
    """Base of the response models: camelCase on the wire, snake_case in Python.

    ``gc=False``: a page decodes into hundreds of objects, and the garbage collector
    tracking them all cost about 40% of the decode time while pages wait in the
    prefetch window. These structs never form reference cycles of their own; do not
    make them part of one (e.g. by appending a case to its own ``tags``), or it leaks.
    """


class UserInfo(_Model):
    """The end user a case is about (``userInfo``)."""

    id: str | None = msgspec.field(default=None, name="_id")
    name: str | None = None
    email_id: str | None = None


class UserRef(_Model):
    """A platform user who acted on a case (``createdBy``, ``updatedBy``, ``currAssignee``)."""

    id: str | None = msgspec.field(default=None, name="_id")
    name: str | None = None
    prof_image: str | None = None


class Status(_Model):
    """A case status, such as ``Open`` in category ``open``."""

    id: str | None = msgspec.field(default=None, name="_id")
    name: str | None = None
    lname: str | None = None
    status_category: str | None = None
    type: str | None = None
    desc: str | None = None
    is_enabled: bool | None = None
    is_active: bool | None = None


class Priority(_Model):
    """A case priority, such as ``Medium`` with ``score`` 10."""

    id: str | None = msgspec.field(default=None, name="_id")
    name: str | None = None
    lname: str | None = None
    type: str | None = None
    desc: str | None = None
    color: str | None = None
    is_enabled: bool | None = None
    is_active: bool | None = None
    score: int | float | None = None


class FieldMetaData(_Model):
    """How a case field is shown and named (``metaData``); ``name`` is the key to look it up."""

    type: str | None = None
    display_name: str | None = None
    name: str | None = None
    description: str | None = None
    placeholder: str | None = None
    read_only: bool | None = None
    tooltip_text: str | None = None


class CaseField(_Model):
    """A field of a case, system or custom, with its ``selected_value``."""

    id: str | None = msgspec.field(default=None, name="_id")
    show: bool | None = None
    display_name: str | None = None
    lname: str | None = None
    desc: str | None = None
    is_enabled: bool | None = None
    is_active: bool | None = None
    meta_data: FieldMetaData | None = None
    type: str | None = None
    required: bool | None = None
    selected_value: Any = None


class Case(_Model):
    """One case, as the Get Cases API returns it.

    ``id`` is the case's ``_id`` and the only field that must be present.
    ``created_at``, ``updated_at`` and ``eta`` are timezone-aware datetimes;
    ``due_date`` stays epoch milliseconds as sent, with :attr:`due_at` as a datetime.
    """

    id: str = msgspec.field(name="_id")
    case_tmp: str | None = None
    name: str | None = None
    lname: str | None = None
    desc: str | None = None
    tags: list[Any] | None = msgspec.field(default_factory=list)
    user_info: UserInfo | None = None
    sess_ids: list[Any] | None = msgspec.field(default_factory=list)
    account_id: str | None = None
    i_id: str | None = msgspec.field(default=None, name="iId")
    org_id: str | None = None
    conv_ids: list[Any] | None = msgspec.field(default_factory=list)
    status: Status | None = None
    source: str | None = None
    language: str | None = None
    conversation_type: str | None = None
    fields: list[CaseField] | None = msgspec.field(default_factory=list)
    participants: list[Any] | None = msgspec.field(default_factory=list)
    queues: list[Any] | None = msgspec.field(default_factory=list)
    priority: Priority | None = None
    ref_id: str | None = None
    assignee_type: str | None = None
    is_active: bool | None = None
    task_ids: list[Any] | None = msgspec.field(default_factory=list)
    attachments: list[Any] | None = msgspec.field(default_factory=list)
    feedback: list[Any] | None = msgspec.field(default_factory=list)
    created_by: UserRef | None = None
    updated_by: UserRef | None = None
    timestamp_value: int | None = None
    activity_ids: list[Any] | None = msgspec.field(default_factory=list)
    comment_ids: list[Any] | None = msgspec.field(default_factory=list)
    resolution_cmts: list[Any] | None = msgspec.field(default_factory=list)
    due_date: int | None = None
    is_breached: bool | None = None
    support_custom_tasks: bool | None = None
    channel: list[Any] | None = msgspec.field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    curr_assignee: UserRef | None = None
    eta: datetime | None = msgspec.field(default=None, name="ETA")

    @property
    def due_at(self) -> datetime | None:
        """``due_date`` (epoch milliseconds) as a timezone-aware UTC datetime, or ``None``."""
        if self.due_date is None:
            return None
        return datetime.fromtimestamp(self.due_date / 1000, tz=timezone.utc)

    def field_value(self, name: str, default: Any = None) -> Any:
        """Return the ``selectedValue`` of the field called ``name``, or ``default``.

        ``name`` is matched against the field's ``metaData.name`` (``"dueDate"``) first,
        then, ignoring case, against its display name (``"Due Date"``) and ``lname``.
        """
        fields = self.fields or ()
        for field in fields:
            if field.meta_data is not None and field.meta_data.name == name:
                return field.selected_value
        folded = name.casefold()
        for field in fields:
            names = (field.display_name, field.lname)
            if any(n is not None and n.casefold() == folded for n in names):
                return field.selected_value
        return default


# What a page's results decode to. `CasesPage` without a parameter means `CasesPage[Case]`:
# type checkers read the default, msgspec (which ignores defaults) the bound. The bound is
# not a constraint: `CasesPage[MyProjection]`, `[dict]` and `[msgspec.Raw]` stay valid.
if TYPE_CHECKING:
    from typing_extensions import TypeVar as _TypeVarWithDefault

    ResultT = _TypeVarWithDefault("ResultT", default=Case)
else:
    ResultT = TypeVar("ResultT", bound=Case)


class CasesPage(_Model, Generic[ResultT]):
    """One page of the Get Cases answer.

    ``results`` holds the cases: :class:`Case` objects for a plain ``CasesPage`` (so
    ``msgspec.json.decode(body, type=CasesPage)`` gives cases), another type for
    ``CasesPage[Model]`` or the client's ``model=``; ``page`` is 1-based; ``limit`` is the
    page size the server used (it may clamp what was asked); ``total_pages`` and
    ``total_results`` count the whole result.
    """

    results: list[ResultT]
    page: int
    limit: int
    has_more: bool
    total_pages: int
    total_results: int


def page_decoder(model: Any = Case) -> msgspec.json.Decoder[CasesPage[Any]]:
    """Return the cached JSON decoder of a :class:`CasesPage` whose results are ``model``.

    ``model`` is any type msgspec can decode into: :class:`Case`, a projection Struct of
    your own, ``dict`` or :class:`msgspec.Raw` (each case kept as its raw JSON bytes).
    One decoder is built per type, however this function is called.
    """
    return _decoder_for(model)


@functools.lru_cache(maxsize=64)
def _decoder_for(model: Any) -> msgspec.json.Decoder[CasesPage[Any]]:
    return msgspec.json.Decoder(CasesPage[model])
