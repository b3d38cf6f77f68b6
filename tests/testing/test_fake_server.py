"""FakeKoreServer over real sockets, driven by a plain aiohttp client and joserfc-made JWTs."""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest
from helpers import until
from joserfc import jwt
from joserfc.jwk import OctKey

from kore_cases.testing import CURRENT_USER_ID, FAULT_KINDS, FakeKoreServer

Case = dict[str, Any]

# Top-level keys of the documented sample case (seed/get-cases-api.txt).
DOC_KEYS = {
    "_id", "caseTmp", "name", "lname", "desc", "tags", "userInfo", "sessIds", "accountId", "iId",
    "orgId", "convIds", "status", "source", "language", "conversationType", "fields",
    "participants", "queues", "priority", "refId", "assigneeType", "isActive", "taskIds",
    "attachments", "feedback", "createdBy", "updatedBy", "timestampValue", "activityIds",
    "commentIds", "resolutionCmts", "dueDate", "isBreached", "supportCustomTasks", "channel",
    "createdAt", "updatedAt", "currAssignee", "ETA",
}  # fmt: skip
STATUS_KEYS = {"_id", "name", "lname", "statusCategory", "type", "desc", "isEnabled", "isActive"}
PRIORITY_KEYS = {"_id", "name", "lname", "type", "desc", "color", "isEnabled", "isActive", "score"}
FIELD_KEYS = {
    "_id", "show", "displayName", "lname", "desc", "isEnabled", "isActive", "metaData", "type",
    "required", "selectedValue",
}  # fmt: skip
ISO_MS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
KORE_RATE_MESSAGE = (
    "You've exceeded the per-minute rate limit. Please wait for sometime before retrying."
)
CASES = 237  # not a multiple of any page size used below


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def error(self) -> dict[str, Any]:
        """The single Kore-style error, checked for shape."""
        errors = self.json()["errors"]
        assert len(errors) == 1
        assert errors[0]["code"] == self.status
        assert isinstance(errors[0]["msg"], str)
        assert errors[0]["msg"]
        return dict(errors[0])


@pytest.fixture
async def server() -> AsyncIterator[FakeKoreServer]:
    async with FakeKoreServer(cases=CASES, seed=7) as srv:
        yield srv


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def sign(claims: dict[str, Any], secret: str) -> str:
    return jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, OctKey.import_key(secret))


def token(server: FakeKoreServer, **claims: Any) -> str:
    now = int(time.time())
    base = {"appId": server.client_id, "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex}
    return sign({**base, **claims}, server.client_secret)


def kore_headers(server: FakeKoreServer, auth: str | None = None) -> dict[str, str]:
    return {"auth": auth or token(server), "accountId": server.account_id}


async def post(
    http: aiohttp.ClientSession,
    server: FakeKoreServer,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    url: str | None = None,
    data: bytes | None = None,
    timeout: float | None = None,
) -> Reply:
    kwargs: dict[str, Any] = {"headers": kore_headers(server) if headers is None else headers}
    if data is not None:
        kwargs["data"] = data
    else:
        kwargs["json"] = {} if body is None else body
    if timeout is not None:
        kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout)
    async with http.post(url or server.endpoint, **kwargs) as resp:
        return Reply(resp.status, resp.headers, await resp.read())


async def fetch_all(
    http: aiohttp.ClientSession, server: FakeKoreServer, body: dict[str, Any] | None = None
) -> list[Case]:
    """Every case a filter matches, page by page, checking the page bookkeeping on the way."""
    cases: list[Case] = []
    page = 1
    while True:
        reply = await post(http, server, {**(body or {}), "page": page, "limit": 100})
        assert reply.status == 200, reply.body
        data = reply.json()
        assert data["page"] == page
        cases += data["results"]
        assert data["hasMore"] == (page < data["totalPages"])
        if not data["hasMore"]:
            assert len(cases) == data["totalResults"]
            return cases
        page += 1


def ids(cases: list[Case]) -> list[str]:
    return [c["_id"] for c in cases]


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


# --- data -------------------------------------------------------------------------------------


async def test_served_cases_have_the_documented_shape(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    cases = await fetch_all(http, server)
    assert len(cases) == CASES
    for case in cases:
        assert set(case) <= DOC_KEYS
        assert DOC_KEYS - set(case) <= {"ETA", "updatedBy"}  # the deliberate lenient-client cases
        assert re.fullmatch(r"ci-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", case["_id"])
        assert re.fullmatch(r"CS\d{6}", case["refId"])
        assert case["name"] == case["lname"] == f"case {int(case['refId'][2:])}"
        assert case["iId"] == server.stream_id
        assert case["accountId"] == server.account_id
        assert case["conversationType"] == "CASE"
        assert set(case["status"]) == STATUS_KEYS
        assert set(case["priority"]) == PRIORITY_KEYS
        assert isinstance(case["priority"]["score"], int)
        assert [f["metaData"]["name"] for f in case["fields"]] == [
            "title",
            "description",
            "dueDate",
        ]
        assert all(set(f) == FIELD_KEYS for f in case["fields"])
        title, desc, due = (f["selectedValue"] for f in case["fields"])
        assert (title, desc) == (case["name"], case["desc"])
        assert ms(due) == case["dueDate"]
        assert case.get("ETA", due) in (due, None)
        assert ISO_MS.fullmatch(case["createdAt"])
        assert ISO_MS.fullmatch(case["updatedAt"])
        assert case["createdAt"] <= case["updatedAt"]
        assert isinstance(case["timestampValue"], int)
        assert set(case["channel"]) <= {"email", "chat", "voice", "sms"}
        assert all(set(q) == {"_id", "name"} for q in case["queues"])
        assert case["assigneeType"] in ("unassigned", "agent", "queue")
        assert (case["currAssignee"] == {}) == (case["assigneeType"] == "unassigned")
        if case["assigneeType"] == "queue":
            assert case["currAssignee"] in case["queues"]
        if case.get("updatedBy") is not None:
            assert set(case["updatedBy"]) == {"name", "_id", "profImage"}
    assert len(set(ids(cases))) == CASES
    # Newest first by default.
    created = [c["createdAt"] for c in cases]
    assert created == sorted(created, reverse=True)


async def test_some_cases_have_null_or_missing_eta_and_updated_by(
    http: aiohttp.ClientSession,
) -> None:
    async with FakeKoreServer(cases=1000) as server:
        cases = await fetch_all(http, server)
    assert any("ETA" in c and c["ETA"] is None for c in cases)
    assert any("ETA" not in c for c in cases)
    assert any("updatedBy" in c and c["updatedBy"] is None for c in cases)
    assert any("updatedBy" not in c for c in cases)
    assert sum("ETA" in c and c["ETA"] is not None for c in cases) > 900  # quirks stay rare
    # The catalogues vary.
    assert {c["status"]["lname"] for c in cases} == {
        "new", "open", "in progress", "on hold", "resolved", "closed",
    }  # fmt: skip
    assert {c["priority"]["lname"] for c in cases} == {"low", "medium", "high", "critical"}
    assert {c["assigneeType"] for c in cases} == {"unassigned", "agent", "queue"}
    years = {c["createdAt"][:4] for c in cases}
    assert len(years) >= 2


def test_cases_are_deterministic_per_seed_and_index() -> None:
    small, large = FakeKoreServer(cases=10, seed=1), FakeKoreServer(cases=20, seed=1)
    # Newest first, so the 10 oldest are at the tail.
    assert small.case_ids() == large.case_ids()[10:]
    assert FakeKoreServer(cases=10, seed=1).case_ids() == small.case_ids()
    assert set(FakeKoreServer(cases=10, seed=2).case_ids()).isdisjoint(small.case_ids())


# --- paging -----------------------------------------------------------------------------------


async def test_page_paging_walks_every_case_once(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    seen: list[str] = []
    for page in range(1, 6):
        data = (await post(http, server, {"page": page, "limit": 50})).json()
        assert (data["page"], data["limit"]) == (page, 50)
        assert (data["totalResults"], data["totalPages"]) == (CASES, 5)
        assert data["hasMore"] == (page < 5)
        seen += ids(data["results"])
    assert len(data["results"]) == CASES - 4 * 50
    assert seen == server.case_ids()


async def test_defaults_are_page_1_and_limit_50(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    data = (await post(http, server, {})).json()
    assert (data["page"], data["limit"], len(data["results"])) == (1, 50, 50)
    assert ids(data["results"]) == server.case_ids()[:50]


async def test_skip_paging_serves_the_slice(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    all_ids = server.case_ids()
    data = (await post(http, server, {"skip": 30, "limit": 20})).json()
    assert (data["page"], data["limit"], data["totalPages"]) == (2, 20, 12)
    assert ids(data["results"]) == all_ids[30:50]
    data = (await post(http, server, {"skip": 230, "limit": 20})).json()
    assert ids(data["results"]) == all_ids[230:]
    assert (data["page"], data["hasMore"]) == (12, False)
    # With both keys, skip wins.
    data = (await post(http, server, {"skip": 5, "page": 3, "limit": 10})).json()
    assert ids(data["results"]) == all_ids[5:15]


async def test_page_beyond_the_end_is_empty_with_totals(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    data = (await post(http, server, {"page": 99, "limit": 50})).json()
    assert data == {
        "results": [],
        "page": 99,
        "limit": 50,
        "hasMore": False,
        "totalPages": 5,
        "totalResults": CASES,
    }


async def test_no_match_has_zero_pages(server: FakeKoreServer, http: aiohttp.ClientSession) -> None:
    data = (await post(http, server, {"searchText": "no such words anywhere"})).json()
    assert data == {
        "results": [],
        "page": 1,
        "limit": 50,
        "hasMore": False,
        "totalPages": 0,
        "totalResults": 0,
    }


async def test_limit_is_clamped_and_the_clamp_reported(http: aiohttp.ClientSession) -> None:
    async with FakeKoreServer(cases=CASES, max_page_size=40) as server:
        data = (await post(http, server, {"limit": 500})).json()
        assert (data["limit"], len(data["results"]), data["totalPages"]) == (40, 40, 6)
        assert server.request_log[-1].limit == 500  # the log keeps what was asked


async def test_skip_only_server_ignores_page(http: aiohttp.ClientSession) -> None:
    async with FakeKoreServer(cases=CASES, paging="skip") as server:
        all_ids = server.case_ids()
        data = (await post(http, server, {"page": 3, "limit": 10})).json()
        assert (data["page"], ids(data["results"])) == (1, all_ids[:10])
        data = (await post(http, server, {"skip": 10, "limit": 10})).json()
        assert (data["page"], ids(data["results"])) == (2, all_ids[10:20])


async def test_page_only_server_ignores_skip(http: aiohttp.ClientSession) -> None:
    async with FakeKoreServer(cases=CASES, paging="page") as server:
        data = (await post(http, server, {"skip": 10, "limit": 10})).json()
        assert (data["page"], ids(data["results"])) == (1, server.case_ids()[:10])


# --- filters and sorting ----------------------------------------------------------------------


def search(text: str) -> Callable[[Case], bool]:
    return lambda c: text.lower() in c["name"].lower() or text.lower() in c["desc"].lower()


FILTERS: list[tuple[dict[str, Any], Callable[[Case], bool]]] = [
    ({"searchText": "Refund"}, search("refund")),
    ({"searchText": "case 1"}, search("case 1")),
    ({"unresolved": True}, lambda c: c["status"]["statusCategory"] not in ("resolved", "closed")),
    ({"unassigned": True}, lambda c: c["assigneeType"] == "unassigned"),
    ({"mycase": True}, lambda c: c["currAssignee"].get("_id") == CURRENT_USER_ID),
    ({"priority": ["High", "critical"]}, lambda c: c["priority"]["lname"] in ("high", "critical")),
    (
        {"status": ["open"]},
        lambda c: "open" in (c["status"]["lname"], c["status"]["statusCategory"]),
    ),
    ({"status": ["On Hold", "closed"]}, lambda c: c["status"]["lname"] in ("on hold", "closed")),
    ({"channel": ["sms", "voice"]}, lambda c: bool({"sms", "voice"} & set(c["channel"]))),
    ({"queues": ["billing"]}, lambda c: "Billing" in [q["name"] for q in c["queues"]]),
    (
        {"startDate": "2024-01-01T00:00:00Z", "endDate": "2024-06-30"},
        lambda c: "2024-01-01T00:00:00.000Z" <= c["createdAt"] <= "2024-06-30T23:59:59.999Z",
    ),
    (
        {"unresolved": True, "priority": ["low", "medium"], "channel": ["email"]},
        lambda c: (
            c["status"]["statusCategory"] not in ("resolved", "closed")
            and c["priority"]["lname"] in ("low", "medium")
            and "email" in c["channel"]
        ),
    ),
]


@pytest.mark.parametrize(("body", "check"), FILTERS, ids=[json.dumps(b) for b, _ in FILTERS])
async def test_filters_narrow_like_an_independent_check(
    server: FakeKoreServer,
    http: aiohttp.ClientSession,
    body: dict[str, Any],
    check: Callable[[Case], bool],
) -> None:
    everything = await fetch_all(http, server)
    matched = await fetch_all(http, server, body)
    assert ids(matched) == server.case_ids(body)
    assert 0 < len(matched) < CASES
    assert ids(matched) == [c["_id"] for c in everything if check(c)]


async def test_queue_filter_accepts_ids(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    everything = await fetch_all(http, server)
    queue = next(c["queues"][0] for c in everything if c["queues"])
    matched = await fetch_all(http, server, {"queues": [queue["_id"]]})
    assert ids(matched) == [c["_id"] for c in everything if queue in c["queues"]]
    assert ids(matched) == ids(await fetch_all(http, server, {"queues": [queue["name"]]}))


async def test_due_date_matches_a_day_or_an_instant(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    everything = await fetch_all(http, server)
    target = everything[17]
    day = target["fields"][2]["selectedValue"][:10]
    start = ms(day + "T00:00:00Z")
    by_day = await fetch_all(http, server, {"dueDate": day})
    assert target["_id"] in ids(by_day)
    assert ids(by_day) == [
        c["_id"] for c in everything if start <= c["dueDate"] < start + 86_400_000
    ]
    exact = {c["_id"] for c in everything if c["dueDate"] == target["dueDate"]}
    instant = datetime.fromtimestamp(target["dueDate"] / 1000, timezone.utc)
    for spelling in (
        instant.isoformat(),
        instant.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(),
    ):
        assert set(ids(await fetch_all(http, server, {"dueDate": spelling}))) == exact


SORTS: list[tuple[Any, Callable[[Case], Any], bool]] = [
    ("priority", lambda c: c["priority"]["score"], True),
    ({"priority": "asc"}, lambda c: c["priority"]["score"], False),
    ({"dueDate": "asc"}, lambda c: c["dueDate"], False),
    ("dueDate", lambda c: c["dueDate"], True),
    ({"updatedDate": "desc"}, lambda c: c["updatedAt"], True),
    ({"createdDate": "asc"}, lambda c: c["createdAt"], False),
    ({"refId": "ASC"}, lambda c: c["refId"], False),
]


@pytest.mark.parametrize(("sort_by", "key", "descending"), SORTS, ids=[str(s[0]) for s in SORTS])
async def test_sort_by(
    server: FakeKoreServer,
    http: aiohttp.ClientSession,
    sort_by: Any,
    key: Callable[[Case], Any],
    descending: bool,
) -> None:
    cases = await fetch_all(http, server, {"sortBy": sort_by})
    assert ids(cases) == server.case_ids({"sortBy": sort_by})
    # Ties are broken by creation time, in the same direction.
    keys = [(key(c), c["createdAt"]) for c in cases]
    assert keys == sorted(keys, reverse=descending)
    assert len(cases) == CASES


@pytest.mark.parametrize(
    "body",
    [
        {"priority": "high"},
        {"status": [1, 2]},
        {"unresolved": "yes"},
        {"searchText": 5},
        {"startDate": "last tuesday"},
        {"dueDate": "2024-13-45"},
        {"sortBy": {"bogus": "asc"}},
        {"sortBy": {"dueDate": "up"}},
        {"page": 0},
        {"limit": "10"},
        {"skip": -1},
        [1, 2],
    ],
    ids=json.dumps,
)
async def test_bad_bodies_get_kore_400(
    server: FakeKoreServer, http: aiohttp.ClientSession, body: Any
) -> None:
    reply = await post(http, server, body)
    assert reply.status == 400
    reply.error()


async def test_non_json_body_gets_400(server: FakeKoreServer, http: aiohttp.ClientSession) -> None:
    reply = await post(http, server, data=b"{not json")
    assert reply.status == 400
    reply.error()


def test_case_ids_rejects_a_bad_body() -> None:
    with pytest.raises(ValueError, match="priority"):
        FakeKoreServer(cases=5).case_ids({"priority": "high"})


# --- route, auth, account ---------------------------------------------------------------------


async def test_wrong_stream_and_path_are_404(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    wrong = server.endpoint.replace(server.stream_id, "st-other")
    reply = await post(http, server, url=wrong, headers={})  # the route is checked first
    assert reply.status == 404
    assert reply.error()["msg"] == "Stream not found"
    assert (await post(http, server, url=server.url + "/getCases")).status == 404


def other_secret_token(server: FakeKoreServer) -> str:
    claims = {"appId": server.client_id, "exp": int(time.time()) + 60}
    return sign(claims, "a-different-secret-0123456789")


@pytest.mark.parametrize(
    "make_auth",
    [
        lambda s: None,
        lambda s: "not-a-jwt",
        other_secret_token,
        lambda s: token(s, appId="cs-someone-else"),
        lambda s: token(s, exp=int(time.time()) - 5),
    ],
    ids=["missing", "garbage", "bad-signature", "wrong-app-id", "expired"],
)
async def test_bad_tokens_get_kore_401(
    server: FakeKoreServer,
    http: aiohttp.ClientSession,
    make_auth: Callable[[FakeKoreServer], str | None],
) -> None:
    auth = make_auth(server)
    headers = {"accountId": server.account_id} | ({"auth": auth} if auth else {})
    reply = await post(http, server, headers=headers)
    assert reply.status == 401
    reply.error()
    assert server.stats.statuses[401] == 1
    assert server.request_log[-1].status == 401


async def test_token_without_exp_is_accepted(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    auth = sign({"appId": server.client_id}, server.client_secret)
    assert (await post(http, server, headers=kore_headers(server, auth))).status == 200


@pytest.mark.parametrize("enforce", [True, False])
async def test_reused_jti(http: aiohttp.ClientSession, enforce: bool) -> None:
    async with FakeKoreServer(cases=5, enforce_unique_jti=enforce) as server:
        auth = token(server)
        assert (await post(http, server, headers=kore_headers(server, auth))).status == 200
        again = await post(http, server, headers=kore_headers(server, auth))
        assert again.status == (401 if enforce else 200)
        assert (await post(http, server)).status == 200  # a fresh jti is fine
        if enforce:
            again.error()
            no_jti = sign({"appId": server.client_id}, server.client_secret)
            assert (await post(http, server, headers=kore_headers(server, no_jti))).status == 401
        assert server.request_log[0].jti == server.request_log[1].jti


async def test_account_id_header(server: FakeKoreServer, http: aiohttp.ClientSession) -> None:
    auth = {"auth": token(server)}
    assert (await post(http, server, headers=auth)).status == 400
    reply = await post(http, server, headers=auth | {"accountId": "someone-else"})
    assert reply.status == 400
    reply.error()
    ok = await post(http, server, headers={"auth": token(server), "ACCOUNTID": server.account_id})
    assert ok.status == 200


async def test_make_token(server: FakeKoreServer, http: aiohttp.ClientSession) -> None:
    key = OctKey.import_key(server.client_secret)
    claims = jwt.decode(server.make_token(), key, algorithms=["HS256"]).claims
    assert claims["appId"] == server.client_id
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"] != jwt.decode(server.make_token(), key).claims["jti"]
    custom = jwt.decode(server.make_token(exp=None, role="x"), key).claims
    assert "exp" not in custom
    assert custom["role"] == "x"
    headers = kore_headers(server, server.make_token())
    assert (await post(http, server, headers=headers)).status == 200


async def test_checks_run_in_kore_order(http: aiohttp.ClientSession) -> None:
    async with FakeKoreServer(cases=5, rate_limits=[(2, 30.0)]) as server:
        server.schedule_faults(1, "500")
        no_token = {"accountId": server.account_id}
        # A 401 does not use up the fault...
        assert (await post(http, server, headers=no_token)).status == 401
        assert (await post(http, server)).status == 500
        # ...while the rate windows (of the account) come before auth.
        assert (await post(http, server, headers=no_token)).status == 429
        # And auth comes before the accountId check.
        assert (await post(http, server, headers={})).status == 401


# --- rate limits ------------------------------------------------------------------------------


async def test_rate_windows(http: aiohttp.ClientSession) -> None:
    async with FakeKoreServer(
        cases=5, rate_limits=[(2, 0.3), (4, 3.0)], retry_after=True
    ) as server:
        assert [(await post(http, server)).status for _ in range(2)] == [200, 200]
        limited = await post(http, server)
        assert limited.status == 429
        assert limited.headers["Retry-After"] == "1"  # ceil(<= 0.3 s), at least 1
        assert limited.error()["msg"] == KORE_RATE_MESSAGE
        await asyncio.sleep(0.35)  # the short window frees; the rejected request took no slot
        assert [(await post(http, server)).status for _ in range(2)] == [200, 200]
        limited = await post(http, server)
        assert limited.status == 429
        assert limited.headers["Retry-After"] == "3"  # the long window: ~2.6 s left
        assert server.stats.rate_limited == 2
        assert server.stats.statuses == {200: 4, 429: 2}
        assert [r.status for r in server.request_log] == [200, 200, 429, 200, 200, 429]


async def test_default_is_kores_limit_per_account_without_retry_after(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()  # the suite's raised default (conftest): this test is about Kore's
    async with FakeKoreServer(cases=5) as server:
        statuses = [(await post(http, server)).status for _ in range(61)]
        assert statuses == [200] * 60 + [429]
        limited = await post(http, server)
        assert limited.status == 429
        assert "Retry-After" not in limited.headers
        assert limited.error() == {"msg": KORE_RATE_MESSAGE, "code": 429}
        # Another account has a budget of its own (and fails later, on its id).
        other = {**kore_headers(server), "accountId": "another-account"}
        assert (await post(http, server, headers=other)).status == 400


@pytest.mark.parametrize("window", [(0, 60.0), (1, 0.0), (1, math.inf), (1, math.nan)])
def test_rate_windows_must_be_finite_and_positive(window: tuple[int, float]) -> None:
    # An infinite window has no Retry-After to send: it used to crash its 2nd request.
    with pytest.raises(ValueError, match="a rate window's"):
        FakeKoreServer(cases=1, rate_limits=[window])


# --- faults -----------------------------------------------------------------------------------


def test_fault_kinds() -> None:
    assert set(FAULT_KINDS) == {
        "500", "502", "503", "504", "408", "429", "reset", "truncated", "nonjson", "badshape",
        "slow",
    }  # fmt: skip
    with pytest.raises(ValueError, match="unknown fault"):
        FakeKoreServer(cases=1).schedule_faults(1, "500", "teapot")
    with pytest.raises(ValueError, match="unknown fault"):
        FakeKoreServer(cases=1, fault_kinds=["boom"])


@pytest.mark.parametrize("kind", ["500", "502", "503", "504", "408", "429"])
async def test_status_faults(
    server: FakeKoreServer, http: aiohttp.ClientSession, kind: str
) -> None:
    server.schedule_faults(1, kind)
    reply = await post(http, server)
    assert reply.status == int(kind)
    error = reply.error()
    if kind == "429":
        assert reply.headers["Retry-After"] == "1"
        assert error["msg"] == KORE_RATE_MESSAGE
    assert (await post(http, server)).status == 200
    assert server.stats.faults_injected == 1
    assert [r.fault for r in server.request_log] == [kind, None]


async def test_reset_fault_is_a_connection_error(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    server.schedule_faults(1, "reset")
    with pytest.raises(aiohttp.ClientError):
        await post(http, server)
    assert (await post(http, server)).status == 200
    assert server.request_log[0].status == 0
    assert server.stats.cancelled == 0  # we hung up, not the client


async def test_truncated_fault_is_a_payload_error(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    server.schedule_faults(1, "truncated")
    async with http.post(server.endpoint, json={}, headers=kore_headers(server)) as resp:
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
    assert (await post(http, server)).status == 200


async def test_nonjson_fault_is_a_proxy_html_page(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    server.schedule_faults(1, "nonjson")
    async with http.post(server.endpoint, json={}, headers=kore_headers(server)) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        assert (await resp.text()).startswith("<html>")


async def test_badshape_fault_has_non_list_results(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    server.schedule_faults(1, "badshape")
    reply = await post(http, server)
    assert reply.status == 200
    assert not isinstance(reply.json()["results"], list)


async def test_slow_fault_times_the_client_out_and_close_stays_prompt(
    http: aiohttp.ClientSession,
) -> None:
    server = FakeKoreServer(cases=5, slow_seconds=30.0)
    async with server:
        server.schedule_faults(1, "slow", "slow")
        with pytest.raises(asyncio.TimeoutError):
            await post(http, server, timeout=0.2)
        await until(lambda: server.stats.cancelled == 1)
        pending = asyncio.ensure_future(post(http, server))
        await until(lambda: server.stats.in_flight == 1)
        started = time.monotonic()
        await server.close()
        assert time.monotonic() - started < 1.0
    assert time.monotonic() - started < 1.0
    with pytest.raises(aiohttp.ClientError):
        await pending
    assert server.stats.in_flight == 0
    assert server.stats.cancelled == 1  # the timed-out client; close() does not count


async def test_slow_fault_answers_after_the_stall(http: aiohttp.ClientSession) -> None:
    async with FakeKoreServer(cases=5, slow_seconds=0.2) as server:
        server.schedule_faults(1, "slow")
        started = time.monotonic()
        assert (await post(http, server)).status == 200
        assert time.monotonic() - started >= 0.2


async def test_scheduled_faults_come_in_order_per_page(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    server.schedule_faults(2, "500", "503")
    server.schedule_faults(2, "429")
    page2 = {"page": 2}
    assert (await post(http, server, {"page": 1})).status == 200
    assert [(await post(http, server, page2)).status for _ in range(4)] == [500, 503, 429, 200]
    # skip style addresses the same page.
    server.schedule_faults(2, "502")
    assert (await post(http, server, {"skip": 50, "limit": 50})).status == 502
    assert [r.fault for r in server.request_log if r.page == 2] == [
        "500",
        "503",
        "429",
        None,
        "502",
    ]


async def test_random_faults_are_seeded(http: aiohttp.ClientSession) -> None:
    async def statuses(seed: int) -> list[int]:
        async with FakeKoreServer(
            cases=5, seed=seed, fault_rate=0.5, fault_kinds=["500", "503"]
        ) as server:
            result = [(await post(http, server)).status for _ in range(20)]
            assert server.stats.faults_injected == sum(s != 200 for s in result)
            return result

    first = await statuses(5)
    assert set(first) == {200, 500, 503}
    assert await statuses(5) == first
    assert await statuses(6) != first


# --- data changes -----------------------------------------------------------------------------


async def test_add_cases_puts_new_cases_first(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    before = (await post(http, server, {"limit": 5})).json()
    server.add_cases(3)
    assert server.total_cases == CASES + 3
    after = (await post(http, server, {"limit": 5})).json()
    assert after["totalResults"] == CASES + 3
    assert ids(after["results"])[3:] == ids(before["results"])[:2]
    assert after["results"][2]["createdAt"] > before["results"][0]["createdAt"]
    assert server.case_ids()[:5] == ids(after["results"])


async def test_add_cases_after_counts_every_request(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    server.add_cases_after(3, 5)
    assert (await post(http, server, headers={})).status == 401  # request 1 counts too
    assert (await post(http, server)).json()["totalResults"] == CASES
    assert (await post(http, server)).json()["totalResults"] == CASES + 5
    assert (await post(http, server)).json()["totalResults"] == CASES + 5


async def test_add_cases_after_reaches_requests_in_flight(http: aiohttp.ClientSession) -> None:
    async with FakeKoreServer(cases=CASES, latency=0.3) as server:
        server.add_cases_after(2, 4)
        first = asyncio.ensure_future(post(http, server))
        await until(lambda: server.stats.in_flight == 1)
        second = await post(http, server)
        assert second.json()["totalResults"] == CASES + 4
        assert (await first).json()["totalResults"] == CASES + 4  # answered after the change


async def test_cached_pages_follow_data_changes(http: aiohttp.ClientSession) -> None:
    async with FakeKoreServer(cases=CASES, cache_pages=True) as server:
        body = {"status": ["open"], "page": 2}
        first = await post(http, server, body)
        assert (await post(http, server, body)).body == first.body
        server.add_cases(50)
        fresh = (await post(http, server, body)).json()
        assert fresh["totalResults"] == len(server.case_ids(body))
        assert fresh["totalResults"] > first.json()["totalResults"]


# --- stats ------------------------------------------------------------------------------------


async def test_concurrency_and_latency_stats(http: aiohttp.ClientSession) -> None:
    async with FakeKoreServer(cases=CASES, latency=0.25, latency_jitter=0.05) as server:
        started = time.monotonic()
        replies = await asyncio.gather(*(post(http, server, {"page": p}) for p in range(1, 7)))
        assert time.monotonic() - started < 1.0  # concurrent, not 6 x 0.25 s
        assert {r.status for r in replies} == {200}
        stats = server.stats
        assert (stats.requests, stats.max_in_flight, stats.in_flight) == (6, 6, 0)
        assert all(
            r.finished is not None and r.finished - r.started >= 0.25 for r in server.request_log
        )
        server.reset_stats()
        assert (stats.requests, stats.max_in_flight, stats.statuses) == (0, 0, {})
        assert server.request_log == []


async def test_attempts_per_page_counts_every_outcome(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    await post(http, server, {"page": 1})
    await post(http, server, {"page": 2})
    await post(http, server, {"page": 2}, headers={})
    await post(http, server, {"skip": 100, "limit": 50})
    await post(http, server, data=b"{broken")
    assert server.stats.attempts_per_page == {1: 1, 2: 2, 3: 1, 0: 1}
    assert server.stats.statuses == {200: 3, 401: 1, 400: 1}


async def test_request_log_records_the_request(
    server: FakeKoreServer, http: aiohttp.ClientSession
) -> None:
    jti = uuid.uuid4().hex
    body = {"skip": 120, "limit": 500, "priority": ["high"]}
    await post(http, server, body, headers=kore_headers(server, token(server, jti=jti)))
    [record] = server.request_log
    assert (record.page, record.limit, record.skip) == (2, 500, 120)  # clamped to 100 for page
    assert (record.body, record.status, record.fault, record.jti) == (body, 200, None, jti)
    assert record.finished is not None
    assert record.started <= record.finished


async def test_client_hanging_up_cancels_the_handler(http: aiohttp.ClientSession) -> None:
    async with FakeKoreServer(cases=5, latency=2.0) as server:
        with pytest.raises(asyncio.TimeoutError):
            await post(http, server, timeout=0.2)
        await until(lambda: server.stats.cancelled == 1)
        assert server.stats.in_flight == 0
        [record] = server.request_log
        assert (record.finished, record.status) == (None, 0)


# --- lifecycle --------------------------------------------------------------------------------


async def test_lifecycle() -> None:
    server = FakeKoreServer(cases=1, port=0)
    with pytest.raises(RuntimeError):
        _ = server.url
    await server.close()  # never started: a no-op
    await server.start()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        assert server.endpoint == (
            f"{server.url}/caseManagement/api/public/analytics/{server.stream_id}/getCases"
        )
        with pytest.raises(RuntimeError):
            await server.start()
    finally:
        await server.close()
    await server.close()
    with pytest.raises(RuntimeError):
        _ = server.url


async def test_server_client_is_a_client_of_this_server_without_a_rate_limit() -> None:
    async with FakeKoreServer(cases=30) as server, server.client(page_size=7) as client:
        assert client.rate_limit is None
        assert client.url == server.endpoint
        assert [case.id async for case in client.iter_cases()] == server.case_ids()
        assert {record.limit for record in server.request_log} == {7}
        assert {record.status for record in server.request_log} == {200}


async def test_server_client_keeps_a_rate_limit_given() -> None:
    from kore_cases import RateLimit

    async with FakeKoreServer(cases=1) as server:
        assert server.client(rate_limit=RateLimit((5, 1.0))).rate_limit == RateLimit((5, 1.0))
