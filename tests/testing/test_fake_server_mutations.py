"""FakeKoreServer's cases changing while it runs: the Python API, the admin endpoint, churn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from helpers import until

from kore_cases.testing import Churn, FakeKoreServer

BODY: dict[str, Any] = {"limit": 100}


@pytest.fixture
async def server() -> AsyncIterator[FakeKoreServer]:
    async with FakeKoreServer(cases=40, seed=3) as srv:
        yield srv


async def get_cases(server: FakeKoreServer, body: dict[str, Any]) -> dict[str, Any]:
    headers = {"auth": server.make_token(), "accountId": server.account_id}
    async with (
        aiohttp.ClientSession() as http,
        http.post(server.endpoint, json=body, headers=headers) as response,
    ):
        assert response.status == 200
        answer: dict[str, Any] = await response.json()
        return answer


async def test_created_cases_lead_the_listing_and_are_newer_than_every_timestamp(
    server: FakeKoreServer,
) -> None:
    before = await get_cases(server, BODY)
    newest_stamp = max(max(c["createdAt"], c["updatedAt"]) for c in before["results"])
    ids = server.create_cases(3)
    after = await get_cases(server, BODY)
    assert [c["_id"] for c in after["results"][:3]] == ids[::-1]  # newest first
    assert after["totalResults"] == 43
    new = after["results"][:3]
    assert all(c["createdAt"] == c["updatedAt"] > newest_stamp for c in new)
    assert new[0]["createdAt"] > new[1]["createdAt"] > new[2]["createdAt"]


async def test_same_millisecond_cases_share_created_at(server: FakeKoreServer) -> None:
    first = server.create_cases(1)
    ties = server.create_cases(2, same_millisecond=True)
    stamps = {server.get_case(i)["createdAt"] for i in first + ties}  # type: ignore[index]
    assert len(stamps) == 1
    # startDate at that millisecond selects all three.
    answer = await get_cases(server, {"startDate": stamps.pop(), **BODY})
    assert {c["_id"] for c in answer["results"]} == set(first + ties)


async def test_update_moves_updated_at_past_everything_and_changes_fields(
    server: FakeKoreServer,
) -> None:
    case_id = server.case_ids()[10]
    newer = server.create_cases(1)[0]
    newest_created = server.get_case(newer)["createdAt"]  # type: ignore[index]
    changed = server.update_case(case_id, status="On Hold", priority="Critical", assignee=None)
    assert changed["status"]["name"] == "On Hold"
    assert changed["priority"]["name"] == "Critical"
    assert changed["assigneeType"] == "unassigned"
    assert changed["updatedAt"] > newest_created
    touched = server.update_case(case_id)
    assert touched["updatedAt"] > changed["updatedAt"]
    assert touched["status"]["name"] == "On Hold"
    answer = await get_cases(server, {"status": ["On Hold"], "priority": ["critical"], **BODY})
    assert case_id in [c["_id"] for c in answer["results"]]


async def test_resolve_takes_a_case_out_of_unresolved_answers(server: FakeKoreServer) -> None:
    unresolved = server.case_ids({"unresolved": True})
    resolved = server.resolve_case(unresolved[0])
    assert resolved["status"]["statusCategory"] == "resolved"
    answer = await get_cases(server, {"unresolved": True, **BODY})
    assert [c["_id"] for c in answer["results"]] == unresolved[1:]
    assert answer["totalResults"] == len(unresolved) - 1


async def test_delete_removes_a_case_from_every_answer(server: FakeKoreServer) -> None:
    victim = server.case_ids()[5]
    server.delete_case(victim)
    answer = await get_cases(server, BODY)
    assert victim not in [c["_id"] for c in answer["results"]]
    assert answer["totalResults"] == server.total_cases == 39
    assert server.get_case(victim) is None
    with pytest.raises(KeyError, match="no case with id"):
        server.resolve_case(victim)


async def test_a_hidden_case_appears_late_with_its_original_created_at(
    server: FakeKoreServer,
) -> None:
    late = server.create_cases(1, hidden=True)[0]
    newer = server.create_cases(1)[0]
    answer = await get_cases(server, BODY)
    assert late not in [c["_id"] for c in answer["results"]]
    assert server.get_case(late) is None
    revealed = server.reveal_case(late)
    answer = await get_cases(server, BODY)
    assert [c["_id"] for c in answer["results"][:2]] == [newer, late]
    assert revealed["createdAt"] < answer["results"][0]["createdAt"]


async def test_mutations_name_what_is_wrong(server: FakeKoreServer) -> None:
    case_id = server.case_ids()[0]
    with pytest.raises(ValueError, match="unknown status 'Done'; valid: New, Open"):
        server.update_case(case_id, status="Done")
    with pytest.raises(ValueError, match="unknown agent"):
        server.update_case(case_id, assignee="Nobody")
    with pytest.raises(KeyError):
        server.update_case("ci-nope")
    with pytest.raises(ValueError, match="count must be >= 1"):
        server.create_cases(0)
    with pytest.raises(ValueError, match="not hidden"):
        server.reveal_case(case_id)


async def test_add_cases_after_mutations_keeps_creation_order(server: FakeKoreServer) -> None:
    created = server.create_cases(2)
    server.update_case(server.case_ids()[-1], priority="High")
    server.add_cases(2)
    answer = await get_cases(server, BODY)
    stamps = [c["createdAt"] for c in answer["results"]]
    assert stamps == sorted(stamps, reverse=True)
    assert len(set(stamps[:4])) == 4
    assert [c["_id"] for c in answer["results"][2:4]] == created[::-1]


# -- the admin endpoint -------------------------------------------------------------------


async def admin(
    server: FakeKoreServer, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, server.url + "/_admin" + path, json=body) as response,
    ):
        payload = await response.json() if response.status != 204 else None
        return response.status, payload


async def test_admin_endpoint_creates_changes_resolves_and_deletes(
    server: FakeKoreServer,
) -> None:
    status, created = await admin(server, "POST", "/cases", {"count": 2})
    assert status == 201
    first, second = created["ids"]
    status, case = await admin(server, "PATCH", f"/cases/{first}", {"priority": "High"})
    assert (status, case["priority"]["name"]) == (200, "High")
    status, case = await admin(server, "POST", f"/cases/{first}/resolve")
    assert (status, case["status"]["name"]) == (200, "Resolved")
    status, _ = await admin(server, "DELETE", f"/cases/{second}")
    assert status == 204
    status, problem = await admin(server, "GET", f"/cases/{second}")
    assert status == 404
    assert "no case with id" in problem["errors"][0]["msg"]
    status, case = await admin(server, "GET", f"/cases/{first}")
    assert (status, case["_id"]) == (200, first)
    status, stats = await admin(server, "GET", "/stats")
    assert status == 200
    assert stats["requests"] == 0  # admin calls are not getCases requests
    assert stats["cases"] == 41


async def test_admin_endpoint_hidden_cases_and_bad_bodies(server: FakeKoreServer) -> None:
    status, created = await admin(server, "POST", "/cases", {"count": 1, "hidden": True})
    assert status == 201
    assert server.get_case(created["ids"][0]) is None
    status, _ = await admin(server, "POST", f"/cases/{created['ids'][0]}/reveal")
    assert status == 200
    assert server.get_case(created["ids"][0]) is not None
    for body, message in [
        ({"count": 0}, "count must be a whole number"),
        ({"count": 1, "hidden": "yes"}, "must be true or false"),
    ]:
        status, problem = await admin(server, "POST", "/cases", body)
        assert status == 400
        assert message in problem["errors"][0]["msg"]
    case_id = server.case_ids()[0]
    status, problem = await admin(server, "PATCH", f"/cases/{case_id}", {"colour": "red"})
    assert status == 400
    assert "unknown field" in problem["errors"][0]["msg"]
    status, problem = await admin(server, "PATCH", f"/cases/{case_id}", {"status": "Nope"})
    assert status == 400
    assert "unknown status" in problem["errors"][0]["msg"]


# -- churn --------------------------------------------------------------------------------


async def test_churn_creates_changes_and_resolves(server: FakeKoreServer) -> None:
    churn = Churn(server, per_second=1000, seed=1)
    kinds = [churn.step() for _ in range(200)]
    assert set(kinds) == {"created", "changed", "resolved"}
    assert churn.counts["created"] == kinds.count("created")
    assert server.total_cases == 40 + churn.counts["created"]


async def test_churn_runs_in_the_background_until_stopped(server: FakeKoreServer) -> None:
    async with Churn(server, per_second=200) as churn:
        await until(lambda: sum(churn.counts.values()) >= 5)
    made = sum(churn.counts.values())
    await asyncio.sleep(0.05)
    assert sum(churn.counts.values()) == made  # stopped


def test_churn_refuses_a_bad_rate() -> None:
    with pytest.raises(ValueError, match="per_second must be a finite number > 0"):
        Churn(FakeKoreServer(cases=1), per_second=0)


async def test_churn_forgets_cases_deleted_under_it(server: FakeKoreServer) -> None:
    churn = Churn(server, per_second=1000, seed=2)
    churn.step()
    for case_id in server.case_ids():
        server.delete_case(case_id)  # everything it knows is gone
    kinds = [churn.step() for _ in range(50)]
    assert "created" in kinds
    assert server.total_cases == kinds.count("created")
