"""The fake server's parts without a socket: settings, rate windows, faults, tokens, pages."""

from __future__ import annotations

import inspect
import json
from dataclasses import FrozenInstanceError, fields
from typing import Any

import pytest

from kore_cases.testing import FAULT_KINDS, FakeKoreServer, RequestRecord
from kore_cases.testing._config import ServerConfig
from kore_cases.testing._faults import FaultPlan
from kore_cases.testing._limits import AccountWindows, SlidingWindows
from kore_cases.testing._mutations import MutableCaseStore
from kore_cases.testing._pages import Pages, json_object
from kore_cases.testing._tokens import Tokens

SECRET = "fake-secret-please-change-0123456789"


def keywords(**changes: Any) -> dict[str, Any]:
    """The constructor's defaults, with ``changes``."""
    signature = inspect.signature(FakeKoreServer.__init__)
    defaults = {name: p.default for name, p in signature.parameters.items() if name != "self"}
    return {**defaults, **changes}


def record() -> RequestRecord:
    return RequestRecord(page=0, limit=0, skip=None, body={}, started=0.0)


# -- settings ------------------------------------------------------------------------------


def test_the_settings_have_a_field_for_each_constructor_keyword() -> None:
    assert [f.name for f in fields(ServerConfig)] == list(keywords())


def test_settings_take_the_default_windows_and_are_frozen() -> None:
    config = ServerConfig.of(keywords(), [(6, 2)])
    assert config.rate_limits == ((6, 2.0),)
    assert ServerConfig.of(keywords(rate_limits=()), [(6, 2)]).rate_limits == ()
    with pytest.raises(FrozenInstanceError):
        config.seed = 1  # type: ignore[misc]


def test_the_settings_repr_hides_the_client_secret() -> None:
    # A traceback's locals or a debugger show the record: the secret stays out of it.
    config = ServerConfig.of(keywords(client_secret="s3cr3t-0123456789abcdef"), [])
    assert "s3cr3t" not in repr(config)
    assert "cs-fake-client" in repr(config)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"paging": "cursor"}, "paging must be 'page', 'skip' or 'both'"),
        ({"max_page_size": 0}, "max_page_size must be >= 1"),
        ({"fault_rate": 1.5}, r"fault_rate must be within \[0, 1\]"),
        ({"fault_rate": 0.5, "fault_kinds": ()}, "fault_rate needs at least one fault kind"),
        ({"fault_kinds": ("503", "teapot")}, "unknown fault kind 'teapot'"),
        ({"rate_limits": [(0, 60.0)]}, "a rate window's max_requests must be"),
    ],
)
def test_settings_refuse_a_bad_value(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ServerConfig.of(keywords(**changes), [])
    with pytest.raises(ValueError, match=message):  # the server refuses it the same way
        FakeKoreServer(**keywords(**changes))


# -- rate windows --------------------------------------------------------------------------


def test_sliding_windows_admit_until_full_then_give_the_wait() -> None:
    windows = SlidingWindows([(2, 10.0), (3, 60.0)])
    assert windows.admit(0.0) is None
    assert windows.admit(1.0) is None
    assert windows.admit(2.5) == 8  # the 10 s window frees at 10.0: ceil(7.5)
    assert windows.admit(10.0) is None  # the refused request took no slot
    assert windows.admit(11.0) == 49  # now the minute is full until 60.0


def test_each_account_has_windows_of_its_own() -> None:
    accounts = AccountWindows(((1, 60.0),))
    assert accounts.admit("a", 0.0) is None
    assert accounts.admit("b", 0.0) is None
    assert accounts.admit("a", 1.0) == 59


# -- faults ----------------------------------------------------------------------------------


def test_scheduled_faults_come_first_in_order_then_normal_answers() -> None:
    plan = FaultPlan(0.0, FAULT_KINDS, seed=0)
    plan.schedule(2, ["503", "reset"])
    plan.schedule(2, ["429"])
    assert [plan.next(2) for _ in range(4)] == ["503", "reset", "429", None]
    assert plan.next(1) is None


def test_random_faults_depend_only_on_the_seed() -> None:
    def draws(seed: int) -> list[str | None]:
        plan = FaultPlan(0.5, ["500", "502"], seed=seed)
        return [plan.next(1) for _ in range(40)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)
    assert {None, "500", "502"} == set(draws(3))


def test_a_fault_kind_is_checked_when_scheduled() -> None:
    with pytest.raises(ValueError, match="unknown fault kind 'oops'; valid kinds: 500, 502"):
        FaultPlan(0.0, FAULT_KINDS, seed=0).schedule(1, ["oops"])


# -- tokens ----------------------------------------------------------------------------------


def test_a_made_token_passes_and_its_jti_is_noted() -> None:
    tokens = Tokens(SECRET, unique_jti=False)
    seen = record()
    assert tokens.problem(tokens.make("cs-1", {"jti": "j-1"}), "cs-1", seen) is None
    assert seen.jti == "j-1"


@pytest.mark.parametrize(
    ("claims", "app_id", "problem"),
    [
        ({}, "cs-other", "Invalid token: appId does not match"),
        ({"exp": 1}, "cs-1", "Invalid token: token expired"),
        ({"jti": None}, "cs-1", "Invalid token: jti claim is required"),
    ],
)
def test_a_token_is_refused_with_kores_words(
    claims: dict[str, Any], app_id: str, problem: str
) -> None:
    tokens = Tokens(SECRET, unique_jti=True)
    assert tokens.problem(tokens.make("cs-1", claims), app_id, record()) == problem


def test_a_jti_is_used_once_when_asked() -> None:
    tokens = Tokens(SECRET, unique_jti=True)
    token = tokens.make("cs-1", {})
    assert tokens.problem(token, "cs-1", record()) is None
    assert tokens.problem(token, "cs-1", record()) == "Invalid token: jti already used"
    assert tokens.problem(None, "cs-1", record()) == "auth token is required"
    other = Tokens("another-secret-0123456789abcdef0123", unique_jti=False)
    expected = "Invalid token: signature verification failed"
    assert other.problem(token, "cs-1", record()) == expected


# -- pages -----------------------------------------------------------------------------------


def pages(count: int = 30, **options: Any) -> Pages:
    store = MutableCaseStore(count, seed=0, stream_id="st", account_id="acct")
    settings: dict[str, Any] = {"max_page_size": 100, "paging": "both", "cache_pages": False}
    return Pages(store, **{**settings, **options})


def test_a_page_is_answered_with_kores_paging_fields() -> None:
    status, payload = pages(30).answer({"page": 2, "limit": 20})
    page = json.loads(payload)
    assert status == 200
    assert len(page["results"]) == 10
    assert {k: v for k, v in page.items() if k != "results"} == {
        "page": 2,
        "limit": 20,
        "hasMore": False,
        "totalPages": 2,
        "totalResults": 30,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [(None, "Request body must be a JSON object"), ({"limit": 0}, "limit must be an integer >= 1")],
)
def test_a_bad_body_is_a_kore_400(body: dict[str, Any] | None, message: str) -> None:
    status, payload = pages().answer(body)
    assert status == 400
    assert json.loads(payload) == {"errors": [{"msg": message, "code": 400}]}


def test_the_record_reads_paging_leniently() -> None:
    served = pages(paging="skip", max_page_size=10)
    seen = record()
    served.describe(seen, {"skip": 25, "limit": 50})
    assert (seen.page, seen.limit, seen.skip) == (3, 50, 25)  # the page of the clamped limit
    bad = record()
    served.describe(bad, {"skip": -1, "limit": True})
    assert (bad.page, bad.limit, bad.skip) == (0, 0, -1)


def test_cases_are_added_at_the_request_they_were_scheduled_for() -> None:
    served = pages(5)
    served.add_after(2, 3)
    served.arrived()
    assert served.store.live == 5
    served.arrived()
    assert served.store.live == 8
    with pytest.raises(ValueError, match="requests must be >= 1"):
        served.add_after(0, 1)


def test_a_cached_page_follows_a_change() -> None:
    served = pages(5, cache_pages=True)
    first = served.answer({})[1]
    assert served.answer({})[1] is first  # the same bytes, not encoded again
    served.add(1)
    assert json.loads(served.answer({})[1])["totalResults"] == 6


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(b"", {}), (b"  ", {}), (b'{"page": 2}', {"page": 2}), (b"[1]", None), (b"{", None)],
)
def test_a_body_is_a_json_object_or_none(raw: bytes, expected: dict[str, Any] | None) -> None:
    assert json_object(raw) == expected
