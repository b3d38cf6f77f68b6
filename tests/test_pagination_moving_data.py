"""Pulls while the data moves: cases created, resolved and deleted between two answers.

Kore lists newest first, so a case created shifts every later page by one and a case
resolved (under ``unresolved=True``) or deleted shifts them back. Each test scripts the
moves against a :class:`PagingServer` and fixes which answer is served before which,
so no test depends on the order concurrent requests arrive in.
"""

from __future__ import annotations

import logging

import pytest
from helpers import client_for
from paging_server import PagingServer, both, client, created, deleted

from kore_cases import ServerError
from kore_cases.testing import FakeKoreServer


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


class TestTotalsThatChange:
    @pytest.mark.parametrize(("ordered", "dedupe"), [(True, True), (False, True), (False, False)])
    async def test_a_reread_is_checked_against_the_pages_already_handed_out(
        self, ordered: bool, dedupe: bool
    ) -> None:
        """Pages 1-3 are read with 100 cases. When page 4 is asked, c000 (yielded) has
        gone: page 4 says 99, so page 3 is read again (a shift of 1). Before that re-read
        is answered, c001..c029 (all yielded) go too: the re-read is 30 cases away from
        the snapshot of pages 1-3, and c030..c049, never removed, slid onto pages 1-2."""
        server = PagingServer.of(100, before={4: deleted("c000")})
        gone = deleted(*(f"c{i:03d}" for i in range(1, 30)))
        server.on_request = lambda n: gone(server.cases) if n == 5 else None
        async with server.running() as url, client(url, page_size=10, concurrency=1) as c:
            got = [case.id async for case in c.iter_cases(ordered=ordered, dedupe=dedupe)]
        missing = sorted(set(server.ids()) - set(got))
        assert not missing, f"cases present for the whole pull were never yielded: {missing}"

    async def test_each_stale_prefetched_page_does_not_re_read_the_whole_shift_again(self) -> None:
        """A small change (+1 case) makes pages 2-9 (all in flight) disagree with page 1;
        the re-read of pages 1-2 meets a larger change (+1000). The re-read pages agree, so
        the pull continues in the 4001-case snapshot. Pages 3-9 were fetched in the 3001-case
        snapshot: they only need fetching again (the current data is the snapshot already
        handed out), not a re-read of every page back to page 1 each (``ceil(1000/50) = 20``
        pages back, 35 pages in all for 9 pages of progress).
        """
        async with (
            FakeKoreServer(cases=3000, latency=0.02, seed=3) as srv,
            client_for(srv, page_size=50, concurrency=8) as client,
        ):
            srv.add_cases_after(requests=2, count=1)
            srv.add_cases_after(requests=10, count=1000)
            cases = client.iter_cases(max_items=450)  # pages 1-9
            ids = [case.id async for case in cases]
            assert len(ids) == len(set(ids)) == 450
            assert cases.stats.pages_reread <= 2 + 7 + 2, cases.stats

    async def test_reread_keeps_memory_bounded_by_the_window(self) -> None:
        """1500 cases arrive when the pull is at page ~30 (concurrency=2). Reading the
        shifted pages again must go through the same window as the rest of the pull: never
        more than ``window`` pages fetched or decoded and waiting, and never more than
        ``concurrency`` requests in flight. (A burst re-read held all ~30 pages at once.)"""
        async with (
            FakeKoreServer(cases=3000, seed=4) as srv,
            client_for(srv, page_size=50, concurrency=2) as client,
        ):
            srv.add_cases_after(requests=30, count=1500)
            pages = client.iter_pages()
            held = 0
            ids: list[str] = []
            async for page in pages:
                ids += [case.id for case in page.results]
                held = max(held, len(pages._window.in_flight) + len(pages._window.ready_items()))
            assert pages.stats.pages_reread > 0
            assert held <= 2, f"{held} pages held at once with a window of 2"
            assert srv.stats.max_in_flight <= 2
            assert len(ids) == len(set(ids))
            assert set(srv.case_ids()) <= set(ids)


class TestResumeWhileReadingAgain:
    @pytest.mark.parametrize("ordered", [True, False])
    async def test_resume_page_is_the_first_page_read_again(self, ordered: bool) -> None:
        """Page 4 finds c000 gone (99 cases): page 3 is read again, and that read fails.

        c030, first on page 4 before, is now last on page 3 and was never yielded:
        ``resume_page`` must be 3 (it was 4, and resuming from it skipped c030)."""
        server = PagingServer.of(100, before={4: deleted("c000")}, faults={3: [None, 500]})
        async with (
            server.running() as url,
            client(url, page_size=10, concurrency=1, max_retries=0) as c,
        ):
            got: list[str] = []
            cases = c.iter_cases(ordered=ordered)
            with pytest.raises(ServerError) as caught:
                async for case in cases:
                    got.append(case.id)
            assert caught.value.page == 3
            assert caught.value.resume_page == cases.resume_page == 3
            rest = [case.id async for case in c.iter_cases(start_page=3, ordered=ordered)]
        assert "c030" not in got
        assert set(server.ids()) <= set(got) | set(rest)


class TestSeams:
    @pytest.mark.parametrize("ordered", [True, False])
    async def test_a_case_created_and_one_resolved_between_two_reads_lose_nothing(
        self, ordered: bool, caplog: pytest.LogCaptureFixture
    ) -> None:
        """totalResults stays 50 while page 3 is served before a case is created and
        c045 deleted, and page 2 after: page 2 now ends one case earlier (c018) and
        page 3 still starts at c020, so c019 fell between them. Page 2 starts with c009,
        the last case of page 1: the overlap shows the move, and the pages after page 2
        are read again."""
        server = PagingServer.of(
            50,
            before={2: both(created("new"), deleted("c045"))},
            after={2: 3, 4: 2, 5: 2},
        )
        with caplog.at_level(logging.WARNING, logger="kore_cases"):
            async with server.running() as url, client(url, page_size=10, concurrency=4) as c:
                cases = c.iter_cases(ordered=ordered)
                got = [case.id async for case in cases]
        assert "c019" in got, "a case present for the whole pull was silently lost"
        assert len(got) == len(set(got))
        assert set(server.ids()) - {"new"} <= set(got)
        assert any("page 2 repeats 1 case of page 1" in w for w in warnings_of(caplog))
        assert cases.stats.pages_reread >= 1
