"""pytest plugin: ``kore_server`` and ``kore_client`` fixtures, for testing code using kore-cases.

Installed with kore-cases and loaded by pytest on its own (entry point ``pytest11``,
name ``kore_cases``; disable it with ``-p no:kore_cases``). The fixtures are async, so
they need `pytest-asyncio <https://pypi.org/project/pytest-asyncio/>`_::

    import pytest
    from kore_cases import CaseFilter

    @pytest.mark.asyncio  # not needed with asyncio_mode = "auto"
    @pytest.mark.kore_server(cases=120, latency=0.01)
    async def test_my_report(kore_client, kore_server):
        ids = [case.id async for case in kore_client.iter_cases(CaseFilter(status=["open"]))]
        assert ids == kore_server.case_ids({"status": ["open"]})

Fixtures:

``kore_server``
    A running :class:`~kore_cases.testing.FakeKoreServer` on 127.0.0.1 and a free
    port, stopped after the test. Point your own code at ``kore_server.url``,
    ``.stream_id``, ``.account_id``, ``.client_id`` and ``.client_secret``; inspect
    ``.request_log`` and ``.stats``; inject trouble with ``.schedule_faults(page, ...)``.
    Change its cases while your code runs, to test a bot: ``.create_cases(n)``,
    ``.update_case(id, status=..., priority=..., assignee=...)``, ``.resolve_case(id)``,
    ``.delete_case(id)``, ``.create_cases(n, hidden=True)`` then ``.reveal_case(id)`` (a
    case listed late); ``kore_cases.testing.Churn(kore_server, per_second)`` keeps
    changing them::

        async def test_my_bot_claims_new_cases(kore_client, kore_server):
            async with kore_client.watch(every=0.01) as events:
                first = asyncio.ensure_future(anext(events))
                await asyncio.sleep(0.05)          # the watch has found "now"
                (case_id,) = kore_server.create_cases(1)
                assert (await first).case.id == case_id

``kore_client``
    An opened :class:`~kore_cases.CasesClient` pointed at ``kore_server``, with
    ``rate_limit=None``; closed after the test.

Markers (on a test, a class or a module through ``pytestmark``; the closest wins
for each keyword):

``@pytest.mark.kore_server(**options)``
    Keyword arguments for :class:`FakeKoreServer`: ``cases``, ``seed``, ``latency``,
    ``latency_jitter``, ``max_page_size``, ``rate_limits``, ``fault_rate``, ...

``@pytest.mark.kore_client(**options)``
    Keyword arguments for :class:`CasesClient`: ``page_size``, ``concurrency``,
    ``max_retries``, ``backoff_base``, ``rate_limit``, ...

Loading this plugin never breaks a test session: without pytest-asyncio the fixtures
still exist, and a test that uses one fails with a message saying to install it. Nor does
it slow one down: the server, its data and the HTTP library are imported when a test
first uses a fixture, not when pytest loads the plugin. With plugin autoloading off
(``PYTEST_DISABLE_PLUGIN_AUTOLOAD``), load it with ``-p kore_cases.pytest_plugin`` or
``pytest_plugins = ["kore_cases.pytest_plugin"]``.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from kore_cases import CasesClient
    from kore_cases.testing import FakeKoreServer

__all__ = ["kore_client", "kore_server", "pytest_configure"]

_NEEDS_PYTEST_ASYNCIO = (
    "the kore_server and kore_client fixtures are async and need pytest-asyncio: "
    "pip install pytest-asyncio (and mark the test @pytest.mark.asyncio, or set "
    'asyncio_mode = "auto")'
)

try:
    import pytest_asyncio

    _HAVE_PYTEST_ASYNCIO = True
except ImportError:  # the plugin still loads; using a fixture explains what is missing
    _HAVE_PYTEST_ASYNCIO = False


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers, so that ``--strict-markers`` accepts them."""
    config.addinivalue_line(
        "markers",
        "kore_server(**options): keyword arguments for the FakeKoreServer of the "
        "kore_server fixture, e.g. kore_server(cases=100, latency=0.01)",
    )
    config.addinivalue_line(
        "markers",
        "kore_client(**options): keyword arguments for the CasesClient of the "
        "kore_client fixture, e.g. kore_client(page_size=10)",
    )


def _marker_options(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    """The keyword arguments of every ``name`` marker on the test, the closest winning."""
    options: dict[str, Any] = {}
    # iter_markers yields the closest first (function, class, module): apply it last.
    for marker in reversed(list(request.node.iter_markers(name))):
        if marker.args:
            raise pytest.UsageError(
                f"@pytest.mark.{name} takes keyword arguments only, e.g. "
                f"@pytest.mark.{name}(cases=100); got positional {marker.args!r}"
            )
        options.update(marker.kwargs)
    return options


def _make_server(request: pytest.FixtureRequest) -> FakeKoreServer:
    from kore_cases.testing import FakeKoreServer  # the server and its data: imported on use

    options = {"host": "127.0.0.1", "port": 0, **_marker_options(request, "kore_server")}
    try:
        return FakeKoreServer(**options)
    except TypeError as exc:  # an unknown keyword in the marker
        raise pytest.UsageError(f"@pytest.mark.kore_server: {exc}") from None


def _make_client(request: pytest.FixtureRequest, server: FakeKoreServer) -> CasesClient:
    try:
        return server.client(**_marker_options(request, "kore_client"))
    except TypeError as exc:
        raise pytest.UsageError(f"@pytest.mark.kore_client: {exc}") from None


def _check_async_test(request: pytest.FixtureRequest, name: str) -> None:
    """Fail the test with a clear message when the fixture cannot work for it."""
    if not _pytest_asyncio_active(request.config):
        pytest.fail(_NEEDS_PYTEST_ASYNCIO, pytrace=False)
    test = getattr(request.node, "obj", None)
    if test is not None and not inspect.iscoroutinefunction(test):
        # The server answers on the event loop that runs the test: a plain `def` test
        # has none running, so every request to the server would hang.
        pytest.fail(
            f"{name} serves on the test's event loop: use it in an `async def` test",
            pytrace=False,
        )


def _pytest_asyncio_active(config: pytest.Config) -> bool:
    """pytest-asyncio is installed *and* loaded (not disabled with ``-p no:asyncio``)."""
    if not _HAVE_PYTEST_ASYNCIO:
        return False
    plugin = sys.modules.get("pytest_asyncio.plugin")
    return plugin is not None and config.pluginmanager.is_registered(plugin)


# The public fixtures are plain ones that check the set-up first, then hand over to the
# async fixtures, which only pytest-asyncio can run.


@pytest.fixture
def kore_server(request: pytest.FixtureRequest) -> FakeKoreServer:
    """A running FakeKoreServer on 127.0.0.1, configured by ``@pytest.mark.kore_server``."""
    _check_async_test(request, "kore_server")
    server: FakeKoreServer = request.getfixturevalue("_kore_server_running")
    return server


@pytest.fixture
def kore_client(request: pytest.FixtureRequest, kore_server: FakeKoreServer) -> CasesClient:
    """An opened CasesClient on ``kore_server``, configured by ``@pytest.mark.kore_client``.

    ``rate_limit=None`` unless the marker says otherwise: tests should not wait on Kore's
    request windows.
    """
    client: CasesClient = request.getfixturevalue("_kore_client_open")
    return client


if _HAVE_PYTEST_ASYNCIO:

    @pytest_asyncio.fixture
    async def _kore_server_running(request: pytest.FixtureRequest) -> AsyncIterator[FakeKoreServer]:
        async with _make_server(request) as server:
            yield server

    @pytest_asyncio.fixture
    async def _kore_client_open(
        request: pytest.FixtureRequest, kore_server: FakeKoreServer
    ) -> AsyncIterator[CasesClient]:
        async with _make_client(request, kore_server) as client:
            yield client
