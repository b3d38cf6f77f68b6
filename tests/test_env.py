"""Settings from ``KORE_*`` variables: ``CasesClient.from_env()`` and the command line."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from mypy import api as mypy_api

from kore_cases import (
    CasesClient,
    ClientOptions,
    EnvOptions,
    JwtAuth,
    RateLimit,
    Retry,
    StaticToken,
)
from kore_cases._env import auth_from
from kore_cases.cli import main
from kore_cases.cli._common import UsageError
from kore_cases.cli._flags import client as cli_client
from kore_cases.cli._parser import build_parser
from kore_cases.testing import FakeKoreServer

BASE = {
    "KORE_HOST": "https://kore.example.com",
    "KORE_STREAM_ID": "st-1",
    "KORE_ACCOUNT_ID": "acct-1",
}
SECRET = "s3cr3t-Kore-client-secret-0123456789abcdef="


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No KORE_* variable of the developer's, and the kore_cases logger restored after."""
    for name in list(os.environ):
        if name.startswith("KORE_"):
            monkeypatch.delenv(name)
    logger = logging.getLogger("kore_cases")
    level, handlers = logger.level, list(logger.handlers)
    yield monkeypatch
    logger.setLevel(level)
    logger.handlers[:] = handlers


def set_all(env: pytest.MonkeyPatch, **more: str) -> None:
    for name, value in {**BASE, "KORE_JWT": "eyJ.static.token", **more}.items():
        env.setenv(name, value)


# -- what is missing ---------------------------------------------------------------------


def test_only_the_missing_secret_is_named(env: pytest.MonkeyPatch) -> None:
    for name, value in BASE.items():
        env.setenv(name, value)
    env.setenv("KORE_CLIENT_ID", "cs-1")
    with pytest.raises(ValueError, match="KORE_CLIENT_SECRET") as info:
        CasesClient.from_env()
    assert str(info.value) == "set the environment variable(s) KORE_CLIENT_SECRET"


def test_only_the_missing_client_id_is_named(env: pytest.MonkeyPatch) -> None:
    for name, value in BASE.items():
        env.setenv(name, value)
    env.setenv("KORE_CLIENT_SECRET", SECRET)
    with pytest.raises(ValueError, match="KORE_CLIENT_ID") as info:
        CasesClient.from_env()
    assert str(info.value) == "set the environment variable(s) KORE_CLIENT_ID"
    assert SECRET not in str(info.value)


def test_options_given_need_no_variable(env: pytest.MonkeyPatch) -> None:
    env.setenv("KORE_STREAM_ID", "st-1")
    client = CasesClient.from_env(
        host="https://kore.example.com", account_id="acct-1", auth=JwtAuth("cs-1", SECRET)
    )
    assert (client.host, client.stream_id, client.account_id) == (
        "https://kore.example.com",
        "st-1",
        "acct-1",
    )


# -- which auth ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"KORE_CLIENT_ID": "cs-1", "KORE_CLIENT_SECRET": SECRET}, JwtAuth),
        ({"KORE_JWT": "eyJ.t"}, StaticToken),
        # A whole pair wins over a token; a half pair yields to it.
        ({"KORE_CLIENT_ID": "cs-1", "KORE_CLIENT_SECRET": SECRET, "KORE_JWT": "eyJ.t"}, JwtAuth),
        ({"KORE_CLIENT_ID": "cs-1", "KORE_JWT": "eyJ.t"}, StaticToken),
    ],
)
def test_auth_from_the_variables(variables: dict[str, str], expected: type[object]) -> None:
    missing: list[str] = []
    assert isinstance(auth_from(variables, missing), expected)
    assert missing == []


ANY_AUTH = "KORE_CLIENT_ID and KORE_CLIENT_SECRET, or KORE_JWT"


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({}, ANY_AUTH),
        ({"KORE_CLIENT_ID": "", "KORE_JWT": ""}, ANY_AUTH),  # empty counts as unset
        ({"KORE_CLIENT_ID": "cs-1"}, "KORE_CLIENT_SECRET"),
        ({"KORE_CLIENT_SECRET": SECRET}, "KORE_CLIENT_ID"),
    ],
)  # fmt: skip
def test_auth_from_names_what_to_set(variables: dict[str, str], named: str) -> None:
    missing: list[str] = []
    assert auth_from(variables, missing) is None
    assert missing == [named]
    spelt: list[str] = []
    auth_from(variables, spelt, name=lambda variable: f"${variable}")
    assert spelt == [named.replace("KORE_", "$KORE_")]


SECOND_HALF = "--client-secret (or KORE_CLIENT_SECRET)"
EVERY_WAY = (
    "--client-id (or KORE_CLIENT_ID) and --client-secret (or KORE_CLIENT_SECRET), "
    "or --jwt (or KORE_JWT)"
)


@pytest.mark.parametrize(
    ("flags", "variables", "expected"),
    [
        ([], {"KORE_CLIENT_ID": "cs-env", "KORE_CLIENT_SECRET": SECRET}, ("JwtAuth", "cs-env")),
        ([], {"KORE_JWT": "eyJ.env"}, ("StaticToken", "eyJ.env")),
        # A flag wins over every variable, even over a whole pair.
        (["--jwt", "eyJ.flag"], {"KORE_CLIENT_ID": "cs-env", "KORE_CLIENT_SECRET": SECRET},
         ("StaticToken", "eyJ.flag")),
        # One half from a flag, the other from its variable; KORE_JWT does not fill in.
        (["--client-id", "cs-flag"], {"KORE_CLIENT_SECRET": SECRET, "KORE_JWT": "eyJ.env"},
         ("JwtAuth", "cs-flag")),
        (["--client-id", "cs-flag"], {"KORE_JWT": "eyJ.env"}, SECOND_HALF),
        ([], {"KORE_CLIENT_SECRET": SECRET}, "--client-id (or KORE_CLIENT_ID)"),
        ([], {}, EVERY_WAY),
    ],
)  # fmt: skip
def test_the_command_line_takes_auth_from_flags_then_variables(
    env: pytest.MonkeyPatch,
    flags: list[str],
    variables: dict[str, str],
    expected: str | tuple[str, str],
) -> None:
    for name, value in {**BASE, **variables}.items():
        env.setenv(name, value)
    args = build_parser().parse_args(["count", *flags])
    if isinstance(expected, str):
        with pytest.raises(UsageError) as info:
            cli_client(args)
        assert str(info.value) == f"missing connection settings: {expected}"
        return
    auth = cli_client(args).auth
    identity = auth.client_id if isinstance(auth, JwtAuth) else auth.token()
    assert (type(auth).__name__, identity) == expected


# -- options from the environment --------------------------------------------------------


def test_retries_timeout_and_rate_limit_come_from_the_environment(
    env: pytest.MonkeyPatch,
) -> None:
    set_all(env, KORE_MAX_RETRIES="2", KORE_TIMEOUT="7.5", KORE_RATE_LIMIT="60/60")
    client = CasesClient.from_env()
    assert isinstance(client.auth, StaticToken)
    assert (client.max_retries, client.timeout) == (2, 7.5)
    assert client.rate_limit == RateLimit((60, 60.0))


def test_rate_limit_takes_several_windows_or_none(env: pytest.MonkeyPatch) -> None:
    set_all(env, KORE_RATE_LIMIT="60/60, 1000/3600")
    assert CasesClient.from_env().rate_limit == RateLimit((60, 60.0), (1000, 3600.0))
    env.setenv("KORE_RATE_LIMIT", "None")
    assert CasesClient.from_env().rate_limit is None


def test_options_given_win_over_the_environment(env: pytest.MonkeyPatch) -> None:
    set_all(env, KORE_MAX_RETRIES="2", KORE_TIMEOUT="7.5", KORE_RATE_LIMIT="60/60")
    client = CasesClient.from_env(max_retries=0, timeout=1.0, rate_limit=None)
    assert (client.max_retries, client.timeout, client.rate_limit) == (0, 1.0, None)
    # retry= given: the variable does not replace its max_retries either.
    assert CasesClient.from_env(retry=Retry(max_retries=4)).max_retries == 4


def test_empty_variables_count_as_unset(env: pytest.MonkeyPatch) -> None:
    set_all(env, KORE_MAX_RETRIES="", KORE_TIMEOUT="", KORE_RATE_LIMIT="", KORE_LOG="")
    client = CasesClient.from_env()
    assert (client.max_retries, client.timeout) == (5, 30.0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KORE_MAX_RETRIES", "three"),
        ("KORE_MAX_RETRIES", "-1"),
        ("KORE_TIMEOUT", "nan"),
        ("KORE_TIMEOUT", "0"),
        ("KORE_RATE_LIMIT", "60"),
        ("KORE_RATE_LIMIT", "60/inf"),
        ("KORE_RATE_LIMIT", "60/60,"),
        ("KORE_LOG", "verbose"),
    ],
)
def test_an_unusable_variable_is_named(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    set_all(env, **{name: value})
    with pytest.raises(ValueError, match=name):
        CasesClient.from_env()


# -- KORE_LOG ------------------------------------------------------------------------------


def test_kore_log_sends_the_library_log_to_stderr_once(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_all(env, KORE_LOG="DEBUG")
    CasesClient.from_env()
    CasesClient.from_env()  # a second client adds no second handler
    logging.getLogger("kore_cases").debug("page %d attempt %d", 3, 1)
    err = capsys.readouterr().err
    assert err.count("page 3 attempt 1") == 1
    assert "kore_cases DEBUG" in err


def test_kore_log_info_leaves_debug_out(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_all(env, KORE_LOG="info")
    CasesClient.from_env()
    logger = logging.getLogger("kore_cases")
    logger.debug("a debug line")
    logger.info("an info line")
    err = capsys.readouterr().err
    assert "an info line" in err
    assert "a debug line" not in err


def test_no_kore_log_no_handler(env: pytest.MonkeyPatch) -> None:
    set_all(env)
    before = list(logging.getLogger("kore_cases").handlers)
    CasesClient.from_env()
    assert logging.getLogger("kore_cases").handlers == before


# -- typing of the options ---------------------------------------------------------------


def test_a_misspelt_option_is_a_type_error(env: pytest.MonkeyPatch) -> None:
    set_all(env)
    with pytest.raises(TypeError, match="timout"):
        CasesClient.from_env(timout=3.0)  # type: ignore[call-arg]


def test_client_options_list_every_constructor_option() -> None:
    parameters = inspect.signature(CasesClient).parameters
    keywords = {name for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY}
    assert set(ClientOptions.__annotations__) == keywords
    assert set(EnvOptions.__annotations__) == set(parameters)


def test_a_type_checker_sees_misspelt_and_mistyped_options(tmp_path: Path) -> None:
    program = tmp_path / "program.py"
    program.write_text(
        textwrap.dedent(
            """
            from kore_cases import CasesClient
            CasesClient.from_env(timout=3.0)
            CasesClient.from_env(max_retries="3")
            CasesClient.from_env(timeout=3.0, max_retries=2)
            """
        )
    )
    out, _err, status = mypy_api.run(
        ["--strict", "--cache-dir", str(tmp_path / "cache"), str(program)]
    )
    assert status == 1
    assert 'Unexpected keyword argument "timout"' in out
    assert 'Argument "max_retries" to "from_env"' in out
    assert "program.py:5" not in out  # the correct call passes


# -- the command line ----------------------------------------------------------------------


def cli_env(env: pytest.MonkeyPatch, server: FakeKoreServer, **more: str) -> None:
    for name, value in {
        "KORE_HOST": server.url,
        "KORE_STREAM_ID": server.stream_id,
        "KORE_ACCOUNT_ID": server.account_id,
        "KORE_CLIENT_ID": server.client_id,
        "KORE_CLIENT_SECRET": server.client_secret,
        **more,
    }.items():
        env.setenv(name, value)


async def run_main(*argv: str) -> int:
    """``main(argv)`` in a worker thread, so the test's loop keeps serving."""
    return await asyncio.to_thread(main, list(argv))


async def test_cli_reads_max_retries_from_the_environment(env: pytest.MonkeyPatch) -> None:
    async with FakeKoreServer(cases=5) as server:
        cli_env(env, server, KORE_MAX_RETRIES="0", KORE_RATE_LIMIT="none")
        server.schedule_faults(1, "503")
        assert await run_main("count") == 1
        assert server.stats.requests == 1  # no retry
        server.schedule_faults(1, "503")
        assert await run_main("count", "--max-retries", "1") == 0  # the flag wins
        assert server.stats.requests == 3


async def test_cli_names_an_unusable_variable(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeKoreServer(cases=5) as server:
        cli_env(env, server, KORE_TIMEOUT="soon")
        assert await run_main("count") == 2
        assert "KORE_TIMEOUT" in capsys.readouterr().err
        assert server.stats.requests == 0


async def test_cli_kore_log_debug_shows_the_library_debug_log(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeKoreServer(cases=5) as server:
        cli_env(env, server, KORE_LOG="debug", KORE_RATE_LIMIT="none")
        assert await run_main("count") == 0
        assert "page 1 attempt 1: HTTP 200" in capsys.readouterr().err
        env.setenv("KORE_LOG", "loud")
        assert await run_main("count") == 2
        assert "KORE_LOG must be 'debug' or 'info'" in capsys.readouterr().err
