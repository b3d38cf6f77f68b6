"""The pytest plugin (kore_server, kore_client fixtures and markers), run through pytester."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

# What a user's pytest configuration typically looks like: strict asyncio mode.
INI = """
[pytest]
asyncio_mode = {mode}
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""
STRICT = INI.format(mode="strict")

USER_TESTS = """
import asyncio

import pytest
from kore_cases import CaseFilter, CasesClient
from kore_cases.testing import FakeKoreServer

pytestmark = pytest.mark.kore_server(cases=64, seed=5)


@pytest.mark.asyncio
async def test_pulls_every_case(kore_client, kore_server):
    assert isinstance(kore_server, FakeKoreServer)
    assert isinstance(kore_client, CasesClient)
    assert kore_client.rate_limit is None
    ids = [case.id async for case in kore_client.iter_cases()]
    assert ids == kore_server.case_ids()
    assert len(ids) == 64


@pytest.mark.asyncio
@pytest.mark.kore_server(cases=37, latency=0.001)
@pytest.mark.kore_client(page_size=10)
async def test_markers_tune_server_and_client(kore_client, kore_server):
    assert kore_server.total_cases == 37
    ids = [case.id async for case in kore_client.iter_cases(CaseFilter(status=["open"]))]
    assert ids == kore_server.case_ids({"status": ["open"]})
    assert {record.limit for record in kore_server.request_log} == {10}


@pytest.mark.asyncio
async def test_server_alone_for_the_users_own_client(kore_server):
    assert kore_server.url.startswith("http://127.0.0.1:")
    assert kore_server.request_log == []


@pytest.mark.asyncio
async def test_a_bot_sees_the_cases_the_test_creates_and_changes(kore_client, kore_server):
    seen = []
    async with kore_client.watch(every=0.01) as events:
        first = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.05)  # the watch knows where "now" is
        ids = kore_server.create_cases(2)
        seen.append((await asyncio.wait_for(first, 5)).case.id)
        seen.append((await asyncio.wait_for(anext(events), 5)).case.id)
    assert seen == ids
    changed = kore_server.update_case(ids[0], priority="Critical", assignee=None)
    assert changed["priority"]["name"] == "Critical"
    assert kore_server.resolve_case(ids[1])["status"]["name"] == "Resolved"
    kore_server.delete_case(ids[0])
    assert kore_server.get_case(ids[0]) is None
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_fixtures_and_markers_in_a_users_suite(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makeini(INI.format(mode=mode))
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest("--strict-markers", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT)
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        ["@pytest.mark.kore_server(**options):*", "@pytest.mark.kore_client*"]
    )


def test_a_marker_with_positional_arguments_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.asyncio
        @pytest.mark.kore_server(100)
        async def test_x(kore_server):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*kore_server takes keyword arguments only*"])


def test_without_pytest_asyncio_the_fixtures_explain_what_to_install(
    pytester: pytest.Pytester,
) -> None:
    # Make pytest-asyncio look uninstalled: keep pytest from loading it as a plugin and
    # shadow the module with one that cannot be imported.
    pytester.makepyfile(pytest_asyncio="raise ImportError('pytest-asyncio is not installed')")
    pytester.makepyfile(
        test_user="""
        async def test_async(kore_client):
            pass

        def test_sync(kore_server):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:asyncio", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*need pytest-asyncio: pip install pytest-asyncio*"])
    result.assert_outcomes(errors=2)  # the session ran; only these tests are affected
    assert "INTERNALERROR" not in result.stdout.str()


def test_a_sync_test_is_told_to_be_async(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT)
    pytester.makepyfile("def test_x(kore_client):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*kore_server serves on the test's event loop*async def*"])


def test_pytest_asyncio_disabled_is_explained(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("async def test_x(kore_server):\n    pass\n")
    result = pytester.runpytest("-p", "no:asyncio")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*need pytest-asyncio: pip install pytest-asyncio*"])


def test_loading_the_plugin_leaves_the_server_and_aiohttp_unimported() -> None:
    # pytest loads the plugin in every run of every project with kore-cases installed:
    # what the fixtures need is imported when a test first uses one.
    code = (
        "import sys, kore_cases.pytest_plugin; "
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('aiohttp', 'joserfc', 'cryptography') "
        "or m.startswith('kore_cases.testing')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
