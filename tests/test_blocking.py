"""``kore_cases.blocking.CasesClient``: the async client driven from plain code.

The fake server runs on an event loop of its own in another thread, so that the
blocking client can be used from a plain function and from inside a running loop (as
in Jupyter) while the server keeps answering.
"""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import inspect
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pyarrow.dataset as pads
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from kore_cases import CasesClient as AsyncCasesClient
from kore_cases import ServerError, _blocking_loop, blocking
from kore_cases.testing import FakeKoreServer


@pytest.fixture
def server_portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal() as portal:
        yield portal


def run_server(portal: BlockingPortal, **options: Any) -> Any:
    """A FakeKoreServer running on ``portal``'s loop, as a context manager."""
    return portal.wrap_async_context_manager(FakeKoreServer(**options))


def client_of(server: FakeKoreServer, **options: Any) -> blocking.CasesClient:
    options.setdefault("rate_limit", None)
    options.setdefault("backoff_base", 0.0)
    return blocking.CasesClient(
        server.url, server.stream_id, server.account_id, server.make_token(), **options
    )


def kore_tasks(client: blocking.CasesClient) -> list[str]:
    """The kore_cases tasks still alive on the client's loop."""

    def alive() -> list[str]:
        return [
            t.get_coro().__qualname__  # type: ignore[union-attr]
            for t in asyncio.all_tasks()
            if "kore_cases" in getattr(t.get_coro(), "cr_code", inspect).co_filename
        ]

    return client._loop.start().call(alive)


def settle(server: FakeKoreServer) -> int:
    """The request count once no request is in flight and none arrived for a while."""
    seen = -1
    while seen != server.stats.requests or server.stats.in_flight:
        seen = server.stats.requests
        time.sleep(0.1)
    return seen


def test_a_plain_function_pulls_1000_cases(server_portal: BlockingPortal) -> None:
    with run_server(server_portal, cases=1000) as server, client_of(server) as client:
        ids = [case.id for case in client.iter_cases()]
        assert ids == server.case_ids()
        assert client.count() == 1000
        page = client.get_page(page=2, page_size=10)
        assert [c.id for c in page.results] == ids[10:20]


def test_tables_and_windows_in_a_script(server_portal: BlockingPortal) -> None:
    with run_server(server_portal, cases=300) as server, client_of(server) as client:
        table = client.to_arrow(window=timedelta(days=90))
        assert table.column("id").to_pylist() == server.case_ids()
        batches = client.iter_record_batches(max_items=120)
        assert sum(batch.num_rows for batch in batches) == 120


async def test_a_running_event_loop_does_not_stop_it(server_portal: BlockingPortal) -> None:
    # As in a Jupyter cell: a loop runs in this thread, and the calls still block.
    assert asyncio.get_running_loop().is_running()
    with run_server(server_portal, cases=1000) as server, client_of(server) as client:
        pages = list(client.iter_pages())
        assert [c.id for p in pages for c in p.results] == server.case_ids()
        assert client.count() == 1000


def test_breaking_early_leaves_no_thread_task_or_connection(
    server_portal: BlockingPortal,
) -> None:
    threads = set(threading.enumerate())
    with run_server(server_portal, cases=1000, latency=0.05) as server:
        with client_of(server, page_size=10, concurrency=4) as client:
            for case in client.iter_cases():
                assert case.id
                break
            assert kore_tasks(client) == []  # the prefetches were cancelled
            sent = settle(server)
            assert sent <= 1 + 4  # page 1 and at most one window: not the 100 pages
            time.sleep(0.2)
            assert server.stats.requests == sent
        assert server.stats.in_flight == 0
        assert set(threading.enumerate()) == threads


def test_close_ends_a_pull_in_progress(server_portal: BlockingPortal) -> None:
    with run_server(server_portal, cases=500) as server, client_of(server, page_size=10) as client:
        cases = client.iter_cases()
        first = next(cases)
        cases.close()
        assert kore_tasks(client) == []
        assert list(cases) == []
        assert first.id == server.case_ids()[0]


def test_errors_carry_the_page_to_resume_from(server_portal: BlockingPortal) -> None:
    with run_server(server_portal, cases=120) as server, client_of(server, max_retries=0) as client:
        server.schedule_faults(3, "500")
        got: list[str] = []
        pull = client.iter_cases()
        with pytest.raises(ServerError) as info:
            got.extend(case.id for case in pull)
        assert (info.value.page, info.value.resume_page) == (3, 3)
        assert got == server.case_ids()[:100]
        rest = [case.id for case in client.iter_cases(start_page=info.value.resume_page)]
        assert got + rest == server.case_ids()


def test_a_windowed_pull_says_where_to_resume(server_portal: BlockingPortal) -> None:
    width = timedelta(days=90)
    with run_server(server_portal, cases=300) as server, client_of(server, page_size=20) as client:
        for make in (client.iter_cases, client.iter_pages, client.iter_record_batches):
            with make() as plain:
                next(plain)
                assert plain.resume_window is None
        taken: list[str] = []
        with client.iter_record_batches(window=width) as batches:
            for batch in batches:
                taken += batch.column("id").to_pylist()
                if len(taken) >= 150:
                    break
            resume = (batches.resume_window, batches.resume_page)
        assert resume[0] is not None
        assert resume[0].end is not None  # not the newest window
        rest = client.iter_cases(window=width, start_window=resume[0], start_page=resume[1])
        assert taken + [case.id for case in rest] == server.case_ids()


def test_calls_need_an_open_client(server_portal: BlockingPortal) -> None:
    with run_server(server_portal, cases=5) as server:
        client = client_of(server)
        with pytest.raises(RuntimeError, match="with CasesClient"):
            client.count()
        with client:
            assert client.count() == 5
        with pytest.raises(RuntimeError, match="closed"):
            client.count()
        with pytest.raises(RuntimeError, match="closed"):
            client.open()
        client.close()  # twice is fine


def test_with_options_views_share_the_loop_and_session(server_portal: BlockingPortal) -> None:
    with run_server(server_portal, cases=5) as server, client_of(server) as client:
        view = client.with_options(timeout=5.0, max_retries=0)
        assert view.async_client.timeout == 5.0
        with view:
            assert view.count() == 5
        assert client.count() == 5  # closing the view closed nothing


def test_from_env_builds_a_blocking_client(
    server_portal: BlockingPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    with run_server(server_portal, cases=7) as server:
        monkeypatch.setenv("KORE_HOST", server.url)
        monkeypatch.setenv("KORE_STREAM_ID", server.stream_id)
        monkeypatch.setenv("KORE_ACCOUNT_ID", server.account_id)
        monkeypatch.setenv("KORE_JWT", server.make_token())
        with blocking.CasesClient.from_env(rate_limit=None) as client:
            assert client.count() == 7


def test_the_constructor_checks_its_arguments_at_once() -> None:
    with pytest.raises(ValueError, match="timeout"):
        blocking.CasesClient("https://kore.example.com", "st-1", "acct", "token", timeout=0)


@pytest.mark.parametrize(
    "name",
    ["get_page", "count", "iter_pages", "iter_cases", "iter_record_batches", "to_arrow"],
)
def test_methods_take_what_the_async_ones_take(name: str) -> None:
    def shape(function: Any) -> list[tuple[str, Any, Any]]:
        return [
            (p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()
        ]

    assert shape(getattr(blocking.CasesClient, name)) == shape(getattr(AsyncCasesClient, name))


def test_a_client_never_closed_does_not_keep_the_interpreter_alive() -> None:
    program = textwrap.dedent(
        """
        from kore_cases.blocking import CasesClient
        client = CasesClient("https://kore.example.com", "st-1", "acct", "token").open()
        print("opened", flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert done.stdout == "opened\n"


def test_a_plain_function_syncs_a_dataset(server_portal: BlockingPortal, tmp_path: Path) -> None:
    with run_server(server_portal, cases=300, max_page_size=50) as server, client_of(server) as c:
        summary = c.sync(tmp_path)
        ids = pads.dataset(tmp_path, partitioning="hive").to_table(columns=["id"])
        assert sorted(ids.column("id").to_pylist()) == sorted(server.case_ids())
        assert (summary.new, summary.total) == (300, 300)
        assert c.sync(tmp_path).unchanged > 0


def test_ctrl_c_in_the_loop_body_leaves_nothing_behind_and_the_client_usable(
    server_portal: BlockingPortal,
) -> None:
    threads = set(threading.enumerate())
    with run_server(server_portal, cases=300, latency=0.05) as server:
        with client_of(server, page_size=10, concurrency=4) as client:
            with pytest.raises(KeyboardInterrupt):
                for _case in client.iter_cases():
                    raise KeyboardInterrupt
            assert kore_tasks(client) == []  # the prefetches were cancelled
            settle(server)
            assert [case.id for case in client.iter_cases()] == server.case_ids()
            assert client.count() == 300
        # Ctrl-C out of the `with` block: closing still cancels the pull and ends the loop.
        client = client_of(server, page_size=10, concurrency=4)
        with pytest.raises(KeyboardInterrupt), client:
            for _case in client.iter_cases():
                raise KeyboardInterrupt
        assert client._loop.closed
        settle(server)
        assert server.stats.in_flight == 0
    assert set(threading.enumerate()) == threads


def in_wait(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs inside ``_blocking_loop.wait``: a call waiting on the loop."""
    while frame is not None:
        if frame.f_code is _blocking_loop.wait.__code__:
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def ctrl_c(*, when_blocked: bool) -> Iterator[None]:
    """Ctrl-C in the main thread, raised only while a call of the client waits there.

    The SIGINT handler raises ``KeyboardInterrupt`` as Python's own does, but only inside
    ``_blocking_loop.wait``, so a signal landing late cannot stop pytest itself. With
    ``when_blocked``, SIGINT is sent as a terminal sends it once the main thread blocks on
    the loop's answer: only a real signal wakes a thread blocked on a lock
    (``_thread.interrupt_main`` would wait for the answer to arrive).
    """
    main = threading.main_thread()
    assert threading.current_thread() is main
    ident = main.ident
    assert ident is not None

    def interrupt(signum: int, frame: FrameType | None) -> None:
        if in_wait(frame):
            raise KeyboardInterrupt

    def blocked() -> bool:
        frame = sys._current_frames().get(ident)
        return frame is not None and frame.f_code.co_name == "wait" and in_wait(frame)

    def watch() -> None:
        deadline = time.monotonic() + 30
        while not blocked():
            if time.monotonic() > deadline:
                return  # never blocked: the test fails on its own
            time.sleep(0.01)
        time.sleep(0.2)  # from Condition.wait into the lock's wait, which the signal breaks
        signal.pthread_kill(ident, signal.SIGINT)

    previous = signal.signal(signal.SIGINT, interrupt)
    watcher = threading.Thread(target=watch, name="ctrl-c")
    if when_blocked:
        watcher.start()
    try:
        yield
    finally:
        if when_blocked:
            watcher.join()
        signal.signal(signal.SIGINT, previous)


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
def test_ctrl_c_while_waiting_for_a_page_ends_the_pull(server_portal: BlockingPortal) -> None:
    threads = set(threading.enumerate())
    with run_server(server_portal, cases=100, latency=2.0) as server:
        with client_of(server, page_size=10, concurrency=4) as client:
            cases = client.iter_cases()
            with ctrl_c(when_blocked=True), pytest.raises(KeyboardInterrupt):
                next(cases)
            assert cases.stats.cases == 0  # interrupted while page 1 was on its way
            assert kore_tasks(client) == []  # the pull ended with the interrupt
            assert list(cases) == []
            assert cases.resume_page == 1
            with ctrl_c(when_blocked=True), pytest.raises(KeyboardInterrupt):
                client.count()
            assert kore_tasks(client) == []
            # The client still works: the same loop, the same session.
            assert [c.id for c in client.iter_cases(max_items=15)] == server.case_ids()[:15]
        settle(server)
        assert server.stats.in_flight == 0
    assert set(threading.enumerate()) == threads


def ctrl_c_as_the_next_item_arrives(pull: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``next(pull)`` raises KeyboardInterrupt after the loop handed the item out."""
    take, interrupts = pull._next, ["Ctrl-C"]

    async def take_then_ctrl_c() -> Any:
        item = await take()
        if interrupts:  # only once: a second one would stop pytest itself
            interrupts.pop()
            _thread.interrupt_main()  # pending in the main thread until it runs Python
        return item

    monkeypatch.setattr(pull, "_next", take_then_ctrl_c)
    with ctrl_c(when_blocked=False), pytest.raises(KeyboardInterrupt):
        next(pull)


def test_ctrl_c_as_a_case_arrives_ends_the_pull_instead_of_skipping_the_case(
    server_portal: BlockingPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C can land after the loop handed out the next case but before the main
    # thread took it: that case is lost, so the pull must not go on past it.
    with run_server(server_portal, cases=30) as server, client_of(server, page_size=10) as client:
        cases = client.iter_cases()
        assert next(cases).id == server.case_ids()[0]
        ctrl_c_as_the_next_item_arrives(cases, monkeypatch)
        assert list(cases) == []
        assert kore_tasks(client) == []
        rest = [case.id for case in client.iter_cases(start_page=cases.resume_page)]
        assert rest == server.case_ids()  # case 2 was never seen: page 1 again


def ids_of(items: list[Any]) -> list[str]:
    """The case ids of pulled cases, pages or record batches, in order."""
    ids: list[str] = []
    for item in items:
        if hasattr(item, "column"):
            ids += item.column("id").to_pylist()
        else:
            ids += [case.id for case in getattr(item, "results", [item])]
    return ids


@pytest.mark.parametrize("method", ["iter_cases", "iter_pages", "iter_record_batches"])
@pytest.mark.parametrize("window", [None, timedelta(days=200)], ids=["plain", "windowed"])
def test_ctrl_c_as_the_last_item_of_a_page_arrives_loses_nothing(
    server_portal: BlockingPortal,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    window: timedelta | None,
) -> None:
    # The item lost to Ctrl-C ends its page: resume_page had already moved past it.
    with run_server(server_portal, cases=60) as server, client_of(server, page_size=10) as client:
        pull = getattr(client, method)(window=window)
        taken = [next(pull) for _ in range(9 if method == "iter_cases" else 1)]
        ctrl_c_as_the_next_item_arrives(pull, monkeypatch)
        assert list(pull) == []
        resume = {"start_page": pull.resume_page}
        if window is not None:
            resume["start_window"] = pull.resume_window
        rest = [c.id for c in client.iter_cases(window=window, **resume)]
        everything = server.case_ids()
        # The rest of the pull, from the lost item's page or earlier: none skipped.
        assert rest == everything[-len(rest) :]
        assert set(ids_of(taken)) | set(rest) == set(everything)
