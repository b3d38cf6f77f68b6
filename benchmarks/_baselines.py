"""What a user would write instead of kore-cases: the baselines the scenarios compare with.

* :class:`PydCase` / :class:`PydPage`: pydantic v2 models of the same fields as
  :class:`kore_cases.Case` (camelCase aliases, datetimes parsed).
* :class:`CaseRow`: a user's projection Struct, as in the README (``model=CaseRow``).
* :func:`sequential_aiohttp`: fetch a page, decode it, ask for the next (how OpenAI- and
  Stripe-style auto-paginators work), with the same msgspec decoder as kore-cases, so
  the comparison isolates the pagination strategy.
* :func:`sequential_httpx_pydantic`: the same loop with httpx and pydantic models.
* :func:`concurrent_aiohttp_msgspec`: the floor for any wrapper: page 1, then a
  semaphore and ``asyncio.gather`` over pages 2..N, each decoded with
  ``msgspec.json.Decoder(CasesPage[Case])`` and consumed as it arrives.

Every baseline mints one JWT and reuses it (what a hand-written loop does); kore-cases
mints a fresh one per request. Each returns the number of cases consumed.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec
from joserfc import jwt
from joserfc.jwk import OctKey
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from kore_cases import Case, CasesPage

Server = dict[str, Any]
Consume = Callable[[Any], None]


class CaseRow(msgspec.Struct, rename="camel"):
    """The README's projection: only the fields a user needs."""

    id: str = msgspec.field(name="_id")
    ref_id: str | None = None


# -- pydantic v2 models of the same fields as kore_cases.Case --------------------------------


class _Pyd(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class PydUserInfo(_Pyd):
    id: str | None = Field(default=None, alias="_id")
    name: str | None = None
    email_id: str | None = None


class PydUserRef(_Pyd):
    id: str | None = Field(default=None, alias="_id")
    name: str | None = None
    prof_image: str | None = None


class PydStatus(_Pyd):
    id: str | None = Field(default=None, alias="_id")
    name: str | None = None
    lname: str | None = None
    status_category: str | None = None
    type: str | None = None
    desc: str | None = None
    is_enabled: bool | None = None
    is_active: bool | None = None


class PydPriority(_Pyd):
    id: str | None = Field(default=None, alias="_id")
    name: str | None = None
    lname: str | None = None
    type: str | None = None
    desc: str | None = None
    color: str | None = None
    is_enabled: bool | None = None
    is_active: bool | None = None
    score: int | float | None = None


class PydFieldMetaData(_Pyd):
    type: str | None = None
    display_name: str | None = None
    name: str | None = None
    description: str | None = None
    placeholder: str | None = None
    read_only: bool | None = None
    tooltip_text: str | None = None


class PydCaseField(_Pyd):
    id: str | None = Field(default=None, alias="_id")
    show: bool | None = None
    display_name: str | None = None
    lname: str | None = None
    desc: str | None = None
    is_enabled: bool | None = None
    is_active: bool | None = None
    meta_data: PydFieldMetaData | None = None
    type: str | None = None
    required: bool | None = None
    selected_value: Any = None


class PydCase(_Pyd):
    id: str = Field(alias="_id")
    case_tmp: str | None = None
    name: str | None = None
    lname: str | None = None
    desc: str | None = None
    tags: list[Any] = Field(default_factory=list)
    user_info: PydUserInfo | None = None
    sess_ids: list[Any] = Field(default_factory=list)
    account_id: str | None = None
    i_id: str | None = Field(default=None, alias="iId")
    org_id: str | None = None
    conv_ids: list[Any] = Field(default_factory=list)
    status: PydStatus | None = None
    source: str | None = None
    language: str | None = None
    conversation_type: str | None = None
    fields: list[PydCaseField] = Field(default_factory=list)
    participants: list[Any] = Field(default_factory=list)
    queues: list[Any] = Field(default_factory=list)
    priority: PydPriority | None = None
    ref_id: str | None = None
    assignee_type: str | None = None
    is_active: bool | None = None
    task_ids: list[Any] = Field(default_factory=list)
    attachments: list[Any] = Field(default_factory=list)
    feedback: list[Any] = Field(default_factory=list)
    created_by: PydUserRef | None = None
    updated_by: PydUserRef | None = None
    timestamp_value: int | None = None
    activity_ids: list[Any] = Field(default_factory=list)
    comment_ids: list[Any] = Field(default_factory=list)
    resolution_cmts: list[Any] = Field(default_factory=list)
    due_date: int | None = None
    is_breached: bool | None = None
    support_custom_tasks: bool | None = None
    channel: list[Any] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    curr_assignee: PydUserRef | None = None
    eta: datetime | None = Field(default=None, alias="ETA")


class PydPage(_Pyd):
    results: list[PydCase]
    page: int
    limit: int
    has_more: bool
    total_pages: int
    total_results: int


# -- HTTP loops -------------------------------------------------------------------------------


def token(server: Server) -> str:
    """One HS256 JWT for the server, as a hand-written client would mint it."""
    now = int(time.time())
    claims = {"appId": server["client_id"], "iat": now, "exp": now + 300}
    claims["jti"] = secrets.token_hex(16)
    return jwt.encode(
        {"alg": "HS256", "typ": "JWT"}, claims, OctKey.import_key(server["client_secret"])
    )


def headers(server: Server) -> dict[str, str]:
    return {
        "auth": token(server),
        "accountId": server["account_id"],
        "Content-Type": "application/json",
    }


def body(page: int, limit: int) -> bytes:
    return msgspec.json.encode({"page": page, "limit": limit})


async def sequential_aiohttp(server: Server, consume: Consume, page_size: int = 50) -> int:
    """Fetch page, decode, next: one request at a time."""
    import aiohttp

    decoder = msgspec.json.Decoder(CasesPage[Case])
    count = 0
    async with aiohttp.ClientSession(headers=headers(server)) as session:
        page_no = 1
        while True:
            async with session.post(server["endpoint"], data=body(page_no, page_size)) as resp:
                resp.raise_for_status()
                data = await resp.read()
            page = decoder.decode(data)
            for case in page.results:
                consume(case)
            count += len(page.results)
            if not page.has_more:
                return count
            page_no += 1


async def sequential_httpx_pydantic(server: Server, consume: Consume, page_size: int = 50) -> int:
    """The same sequential loop with httpx and pydantic models."""
    import httpx

    count = 0
    async with httpx.AsyncClient(headers=headers(server)) as client:
        page_no = 1
        while True:
            resp = await client.post(server["endpoint"], content=body(page_no, page_size))
            resp.raise_for_status()
            page = PydPage.model_validate_json(resp.content)
            for case in page.results:
                consume(case)
            count += len(page.results)
            if not page.has_more:
                return count
            page_no += 1


async def concurrent_aiohttp_msgspec(
    server: Server, consume: Consume, concurrency: int = 8, page_size: int = 50
) -> int:
    """The floor: page 1, then pages 2..N through a semaphore and gather, decoded on arrival."""
    import aiohttp

    decoder = msgspec.json.Decoder(CasesPage[Case])
    semaphore = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(headers=headers(server), connector=connector) as session:

        async def one(page_no: int) -> int:
            async with semaphore:
                data = await _read(session, server, page_no, page_size)
            page = decoder.decode(data)
            for case in page.results:
                consume(case)
            return len(page.results)

        first = decoder.decode(await _read(session, server, 1, page_size))
        for case in first.results:
            consume(case)
        rest = await asyncio.gather(*(one(p) for p in range(2, first.total_pages + 1)))
        return len(first.results) + sum(rest)


async def _read(session: Any, server: Server, page_no: int, page_size: int) -> bytes:
    async with session.post(server["endpoint"], data=body(page_no, page_size)) as resp:
        resp.raise_for_status()
        data: bytes = await resp.read()
        return data
