"""CasesClient: configuration checks, lifecycle, request building, the aiohttp transport.

Every HTTP exchange here goes through the ``mock_http`` (aioresponses) fixture, the way
users of the SDK can mock it too. What each answer becomes (statuses, bodies) is in
``test_error_mapping.py``, with canned answers through ``MockTransport``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import anyio
import msgspec
import pytest
from aioresponses import aioresponses
from helpers import SAMPLE, page_payload
from joserfc import jwt
from joserfc.jwk import OctKey
from yarl import URL

from kore_cases import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    Case,
    CaseFilter,
    CasesClient,
    CasesPage,
    ClientClosedError,
    JwtAuth,
    RateLimit,
    ResponseTooLargeError,
    ResponseValidationError,
    StaticToken,
)

HOST = "https://kore.example.com"
STREAM = "st-084d3c5e-376a-559f-9987-a012bb2b0000"
ACCOUNT = "6639f7bd58c97ffac03b0000"
CLIENT_ID = "cs-0a1b2c3d-4e5f-6789-abcd-ef0123456789"
SECRET = "s3cr3t-Kore-client-secret-0123456789abcdef="
STATIC = "eyJhbGciOiJIUzI1NiJ9.eyJhcHBJZCI6ImNzLTEifQ.c3RhdGljLXRva2VuLXNpZ25hdHVyZQ"
PATH = f"/caseManagement/api/public/analytics/{STREAM}/getCases"
ENDPOINT = HOST + PATH
KEY = ("POST", URL(ENDPOINT))

BROWSER_HEADERS = {
    "sec-ch-ua",
    "sec-ch-ua-mobile",
    "sec-ch-ua-platform",
    "referer",
    "origin",
    "client-app",
    "x-timezone-offset",
    "state",
    "iid",
    "bot-language",
    "app-language",
}


def make_client(**options: Any) -> CasesClient:
    settings: dict[str, Any] = {"rate_limit": None, "backoff_base": 0.0, "max_retries": 2}
    settings.update(options)
    auth = settings.pop("auth", JwtAuth(CLIENT_ID, SECRET))
    return CasesClient(HOST, STREAM, ACCOUNT, auth, **settings)


def calls(mock_http: aioresponses) -> list[Any]:
    return mock_http.requests.get(KEY, [])


def sent_body(call: Any) -> dict[str, Any]:
    return json.loads(call.kwargs["data"])


def sent_headers(call: Any) -> dict[str, str]:
    return dict(call.kwargs["headers"])


def sent_tokens(mock_http: aioresponses) -> list[str]:
    return [sent_headers(c)["auth"] for c in calls(mock_http)]


def assert_no_secrets(err: BaseException, tokens: list[str]) -> None:
    texts = [str(err), repr(err), repr(err.args)]
    texts.append(str(getattr(err, "server_message", "")))
    for text in texts:
        assert SECRET not in text
        for token in tokens:
            assert token not in text


# -- constructor validation -------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "kore.example.com",
        "platform.kore.ai/",
        "ftp://kore.example.com",
        "file:///etc/passwd",
        "https://",
        "https://kore.example.com?x=1",
        "https://kore.example.com#frag",
    ],
)
def test_bad_host(host: str) -> None:
    with pytest.raises(ValueError, match="host"):
        CasesClient(host, STREAM, ACCOUNT, StaticToken(STATIC))


def test_host_must_be_str() -> None:
    with pytest.raises(TypeError, match="host"):
        CasesClient(None, STREAM, ACCOUNT, StaticToken(STATIC))  # type: ignore[arg-type]


def test_host_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError, match="credentials") as info:
        CasesClient("https://admin:hunter2-pw@kore.example.com", STREAM, ACCOUNT, STATIC)
    assert "hunter2-pw" not in str(info.value)


def test_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ValueError, match="http://") as info:
        CasesClient("http://kore.example.com", STREAM, ACCOUNT, StaticToken(STATIC))
    assert "allow_insecure_http" in str(info.value)


def test_http_to_a_remote_host_with_allow_insecure_http() -> None:
    client = CasesClient(
        "http://kore.example.com", STREAM, ACCOUNT, StaticToken(STATIC), allow_insecure_http=True
    )
    assert client.url == "http://kore.example.com" + PATH


@pytest.mark.parametrize(
    "host",
    ["http://127.0.0.1", "http://127.0.0.1:8080", "http://localhost:1234", "http://[::1]:8080"],
)
def test_http_to_loopback_is_allowed(host: str) -> None:
    client = CasesClient(host, STREAM, ACCOUNT, StaticToken(STATIC))
    assert client.url == host + PATH


@pytest.mark.parametrize("host", ["http://localhost.evil.example", "http://10.0.0.1"])
def test_http_to_look_alike_hosts_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="http://"):
        CasesClient(host, STREAM, ACCOUNT, StaticToken(STATIC))


def test_host_trailing_slash_and_prefix() -> None:
    assert make_client().url == ENDPOINT
    slash = CasesClient(HOST + "/", STREAM, ACCOUNT, STATIC)
    assert slash.url == ENDPOINT
    prefixed = CasesClient(HOST + "/kore/", STREAM, ACCOUNT, STATIC)
    assert prefixed.url == HOST + "/kore" + PATH


@pytest.mark.parametrize(
    "stream_id", ["st/1", "..", "st-1/../admin", "st?x=1", "st%2F1", "st 1", "", "st\n1", 5]
)
def test_bad_stream_id(stream_id: Any) -> None:
    with pytest.raises(ValueError, match="stream_id"):
        CasesClient(HOST, stream_id, ACCOUNT, StaticToken(STATIC))


@pytest.mark.parametrize("account_id", ["acc\r\nX-Evil: 1", "acc\n", "acc\r", "", "   ", None])
def test_bad_account_id(account_id: Any) -> None:
    with pytest.raises(ValueError, match="account_id"):
        CasesClient(HOST, STREAM, account_id, StaticToken(STATIC))


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Trace": "a\r\nX-Evil: 1"},
        {"X-Trace": "a\nb"},
        {"X-Trace\r\n": "a"},
        {"X-Bad:Name": "a"},
        {"": "a"},
    ],
)
def test_extra_headers_with_control_characters(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="extra_headers"):
        make_client(extra_headers=headers)


@pytest.mark.parametrize("name", ["auth", "AUTH", "accountId", "accountid", "Content-Type"])
def test_extra_headers_may_not_override_own_headers(name: str) -> None:
    with pytest.raises(ValueError, match="extra_headers") as info:
        make_client(extra_headers={name: "x"})
    assert name in str(info.value)


def test_extra_headers_must_be_strings() -> None:
    with pytest.raises(TypeError, match="extra_headers"):
        make_client(extra_headers={"X-Count": 5})


@pytest.mark.parametrize("name", ["page_size", "concurrency", "max_response_bytes"])
@pytest.mark.parametrize("value", [0, -1, True, 1.5, "8"])
def test_positive_int_options(name: str, value: Any) -> None:
    with pytest.raises(ValueError, match=name):
        make_client(**{name: value})


@pytest.mark.parametrize("value", [0, -1, 0.0, True, "30", None])
def test_bad_timeout(value: Any) -> None:
    with pytest.raises(ValueError, match="timeout"):
        make_client(timeout=value)


@pytest.mark.parametrize("value", [-1, True, 1.5])
def test_bad_max_retries(value: Any) -> None:
    with pytest.raises(ValueError, match="max_retries"):
        make_client(max_retries=value)


@pytest.mark.parametrize("value", ["offset", "Page", "", None])
def test_bad_paging(value: Any) -> None:
    with pytest.raises(ValueError, match="paging"):
        make_client(paging=value)


@pytest.mark.parametrize("value", [(600, 60.0), 600, "600/60"])
def test_bad_rate_limit(value: Any) -> None:
    with pytest.raises(TypeError, match="rate_limit"):
        make_client(rate_limit=value)


def test_bad_ssl() -> None:
    with pytest.raises(TypeError, match="ssl"):
        make_client(ssl=True)


@pytest.mark.parametrize("auth", [123, None, object(), b"token", {"token": "x"}])
def test_auth_of_a_wrong_type(auth: Any) -> None:
    with pytest.raises(TypeError, match="auth"):
        CasesClient(HOST, STREAM, ACCOUNT, auth)


def test_str_auth_becomes_static_token() -> None:
    client = CasesClient(HOST, STREAM, ACCOUNT, STATIC)
    assert isinstance(client.auth, StaticToken)
    assert client.auth.token() == STATIC


def test_any_object_with_token_method_is_auth() -> None:
    class VaultToken:
        def token(self) -> str:
            return "from-vault"

    auth = VaultToken()
    assert CasesClient(HOST, STREAM, ACCOUNT, auth).auth is auth


def test_defaults() -> None:
    client = CasesClient(HOST, STREAM, ACCOUNT, STATIC)
    assert client.page_size == 50
    assert client.concurrency == 8
    assert client.timeout == 30.0
    assert client.max_retries == 5
    assert client.paging == "page"
    assert client.rate_limit == RateLimit((60, 60.0))  # Kore: 60 a minute per account
    assert client.path == PATH


def test_repr_has_no_secret() -> None:
    client = make_client()
    text = repr(client)
    assert SECRET not in text
    assert HOST in text
    assert STREAM in text
    static = CasesClient(HOST, STREAM, ACCOUNT, STATIC)
    assert STATIC not in repr(static)
    assert STATIC not in str(static)


@pytest.mark.parametrize(
    "host",
    [
        "https://platform.kore.ai:abc",
        "https://platform.kore.ai:99999",
        "https://platform.kore.ai:0",
        "https://platform.\r\nkore.ai",
        "https://platform.kore.ai\r\nX-Injected: 1",
        "https://platform\t.kore.ai",
    ],
)
def test_a_host_with_a_bad_port_or_a_control_character_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="host") as caught:
        CasesClient(host, "st-1", "acc", "tok")
    assert "port" in str(caught.value) or "control" in str(caught.value)


def test_a_host_with_a_good_port_is_kept() -> None:
    client = CasesClient("https://kore.example:8443/", "st-1", "acc", "tok")
    assert client.host == "https://kore.example:8443"


@pytest.mark.parametrize("stream_id", ["st-abc\n", "st-abc\r\n", "\nst-abc", "st-a/../b"])
def test_a_stream_id_with_a_trailing_newline_or_a_path_is_refused(stream_id: str) -> None:
    # "$" in a regular expression matches before a trailing newline: the whole id must fit.
    with pytest.raises(ValueError, match="stream_id"):
        CasesClient("https://kore.example", stream_id, "acc", "tok")


# -- lifecycle ------------------------------------------------------------------------


async def test_use_before_open_tells_how_to_open() -> None:
    client = make_client()
    with pytest.raises(RuntimeError, match="async with"):
        await client.get_page()
    with pytest.raises(RuntimeError, match="async with"):
        await client.count()
    with pytest.raises(RuntimeError, match="async with"):
        client.iter_cases()
    with pytest.raises(RuntimeError, match="async with"):
        client.iter_pages()


async def test_use_after_aclose(mock_http: aioresponses) -> None:
    client = make_client()
    async with client:
        pass
    with pytest.raises(ClientClosedError, match="closed"):
        await client.get_page()
    with pytest.raises(ClientClosedError, match="closed"):
        client.iter_cases()
    with pytest.raises(ClientClosedError, match="closed"):
        await client.open()
    with pytest.raises(ClientClosedError, match="closed"):
        async with client:
            pass
    assert calls(mock_http) == []


async def test_aclose_is_idempotent() -> None:
    never_opened = make_client()
    await never_opened.aclose()
    await never_opened.aclose()
    other = make_client()
    assert await other.open() is other
    assert await other.open() is other  # opening twice is harmless
    await other.aclose()
    await other.aclose()
    with pytest.raises(ClientClosedError, match="closed"):
        await other.get_page()


async def test_async_with_returns_the_client(mock_http: aioresponses) -> None:
    mock_http.post(ENDPOINT, payload=page_payload())
    client = make_client()
    async with client as opened:
        assert opened is client
        page = await opened.get_page()
    assert page.results[0].ref_id == "CS000100"


# -- from_env -------------------------------------------------------------------------

ENV_NAMES = (
    "KORE_HOST",
    "KORE_STREAM_ID",
    "KORE_ACCOUNT_ID",
    "KORE_CLIENT_ID",
    "KORE_CLIENT_SECRET",
    "KORE_JWT",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _set_base(env: pytest.MonkeyPatch) -> None:
    env.setenv("KORE_HOST", HOST)
    env.setenv("KORE_STREAM_ID", STREAM)
    env.setenv("KORE_ACCOUNT_ID", ACCOUNT)


def test_from_env_with_client_id_and_secret(clean_env: pytest.MonkeyPatch) -> None:
    _set_base(clean_env)
    clean_env.setenv("KORE_CLIENT_ID", CLIENT_ID)
    clean_env.setenv("KORE_CLIENT_SECRET", SECRET)
    client = CasesClient.from_env(page_size=10)
    assert client.url == ENDPOINT
    assert client.account_id == ACCOUNT
    assert client.page_size == 10
    assert isinstance(client.auth, JwtAuth)
    assert client.auth.client_id == CLIENT_ID
    claims = jwt.decode(client.auth.token(), OctKey.import_key(SECRET), algorithms=["HS256"])
    assert claims.claims["appId"] == CLIENT_ID
    assert SECRET not in repr(client)


def test_from_env_with_jwt(clean_env: pytest.MonkeyPatch) -> None:
    _set_base(clean_env)
    clean_env.setenv("KORE_JWT", STATIC)
    client = CasesClient.from_env()
    assert isinstance(client.auth, StaticToken)
    assert client.auth.token() == STATIC


def test_from_env_prefers_client_credentials_over_jwt(clean_env: pytest.MonkeyPatch) -> None:
    _set_base(clean_env)
    clean_env.setenv("KORE_CLIENT_ID", CLIENT_ID)
    clean_env.setenv("KORE_CLIENT_SECRET", SECRET)
    clean_env.setenv("KORE_JWT", STATIC)
    assert isinstance(CasesClient.from_env().auth, JwtAuth)


def test_from_env_missing_everything(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="KORE_HOST") as info:
        CasesClient.from_env()
    message = str(info.value)
    for name in ("KORE_HOST", "KORE_STREAM_ID", "KORE_ACCOUNT_ID", "KORE_CLIENT_ID", "KORE_JWT"):
        assert name in message


def test_from_env_missing_credentials_only(clean_env: pytest.MonkeyPatch) -> None:
    _set_base(clean_env)
    clean_env.setenv("KORE_CLIENT_ID", CLIENT_ID)  # a secret is missing
    with pytest.raises(ValueError, match="KORE_CLIENT_SECRET") as info:
        CasesClient.from_env()
    assert "KORE_HOST" not in str(info.value)


def test_from_env_missing_host_does_not_echo_the_secret(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KORE_STREAM_ID", STREAM)
    clean_env.setenv("KORE_ACCOUNT_ID", ACCOUNT)
    clean_env.setenv("KORE_CLIENT_ID", CLIENT_ID)
    clean_env.setenv("KORE_CLIENT_SECRET", SECRET)
    with pytest.raises(ValueError, match="KORE_HOST") as info:
        CasesClient.from_env()
    assert SECRET not in str(info.value)
    assert "KORE_STREAM_ID" not in str(info.value)


def test_from_env_empty_values_count_as_missing(clean_env: pytest.MonkeyPatch) -> None:
    _set_base(clean_env)
    clean_env.setenv("KORE_STREAM_ID", "")
    clean_env.setenv("KORE_JWT", STATIC)
    with pytest.raises(ValueError, match="KORE_STREAM_ID"):
        CasesClient.from_env()


# -- request building ------------------------------------------------------------------


async def test_request_url_headers_and_body(mock_http: aioresponses) -> None:
    mock_http.post(ENDPOINT, payload=page_payload())
    async with make_client() as client:
        page = await client.get_page()
    assert isinstance(page, CasesPage)
    assert isinstance(page.results[0], Case)
    assert page.results[0].id == SAMPLE["results"][0]["_id"]
    (call,) = calls(mock_http)
    assert call.kwargs["allow_redirects"] is False
    headers = sent_headers(call)
    assert headers["accountId"] == ACCOUNT
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("kore-cases/")
    assert "Mozilla" not in headers["User-Agent"]
    decoded = jwt.decode(headers["auth"], OctKey.import_key(SECRET), algorithms=["HS256"])
    assert decoded.claims["appId"] == CLIENT_ID
    assert sent_body(call) == {"page": 1, "limit": 50}


async def test_no_browser_headers(mock_http: aioresponses) -> None:
    mock_http.post(ENDPOINT, payload=page_payload())
    async with make_client() as client:
        await client.get_page()
    names = {name.lower() for name in sent_headers(calls(mock_http)[0])}
    assert not names & BROWSER_HEADERS
    assert names <= {"auth", "accountid", "content-type", "accept", "user-agent"}


async def test_each_request_gets_a_fresh_jwt(mock_http: aioresponses) -> None:
    mock_http.post(ENDPOINT, payload=page_payload(), repeat=True)
    async with make_client() as client:
        await client.get_page()
        await client.get_page()
    key = OctKey.import_key(SECRET)
    jtis = {jwt.decode(t, key, algorithms=["HS256"]).claims["jti"] for t in sent_tokens(mock_http)}
    assert len(jtis) == 2


async def test_static_token_is_sent_as_is(mock_http: aioresponses) -> None:
    mock_http.post(ENDPOINT, payload=page_payload())
    async with make_client(auth=STATIC) as client:
        await client.get_page()
    assert sent_tokens(mock_http) == [STATIC]


async def test_extra_headers_are_sent(mock_http: aioresponses) -> None:
    mock_http.post(ENDPOINT, payload=page_payload())
    async with make_client(extra_headers={"X-Request-Source": "etl"}) as client:
        await client.get_page()
    assert sent_headers(calls(mock_http)[0])["X-Request-Source"] == "etl"


async def test_body_with_every_filter_field(mock_http: aioresponses) -> None:
    flt = CaseFilter(
        search_text="printer",
        unresolved=True,
        unassigned=False,
        my_case=True,
        priority=["high"],
        status=["open", "new"],
        channel=["email"],
        queues=["SupportQueue1"],
        start_date="2025-01-01T00:00:00Z",
        end_date="2025-06-30T05:30:00+05:30",
        sort_by={"createdDate": "DESC"},
        due_date="2025-07-01",
    )
    mock_http.post(ENDPOINT, payload=page_payload(page=3, limit=25, total_pages=5))
    async with make_client(page_size=25) as client:
        page = await client.get_page(flt, page=3)
    assert page.page == 3
    assert sent_body(calls(mock_http)[0]) == {
        "searchText": "printer",
        "unresolved": True,
        "unassigned": False,
        "mycase": True,
        "priority": ["high"],
        "status": ["open", "new"],
        "channel": ["email"],
        "queues": ["SupportQueue1"],
        "startDate": "2025-01-01T00:00:00.000Z",
        "endDate": "2025-06-30T00:00:00.000Z",
        "sortBy": {"createdDate": "desc"},
        "dueDate": "2025-07-01T00:00:00.000Z",
        "page": 3,
        "limit": 25,
    }


async def test_skip_paging(mock_http: aioresponses) -> None:
    mock_http.post(ENDPOINT, payload=page_payload(page=3, limit=20, total_pages=5))
    async with make_client(paging="skip", page_size=20) as client:
        await client.get_page(CaseFilter(status=["open"]), page=3)
    body = sent_body(calls(mock_http)[0])
    assert body == {"status": ["open"], "skip": 40, "limit": 20}
    assert "page" not in body


async def test_skip_paging_first_page_skips_nothing(mock_http: aioresponses) -> None:
    mock_http.post(ENDPOINT, payload=page_payload())
    async with make_client(paging="skip") as client:
        await client.get_page()
    assert sent_body(calls(mock_http)[0]) == {"skip": 0, "limit": 50}


async def test_page_size_override(mock_http: aioresponses) -> None:
    mock_http.post(ENDPOINT, payload=page_payload(limit=7), repeat=True)
    async with make_client(page_size=30) as client:
        await client.get_page(page_size=7)
        await client.get_page()
    assert [sent_body(c)["limit"] for c in calls(mock_http)] == [7, 30]


async def test_count_asks_one_case_and_returns_total(mock_http: aioresponses) -> None:
    mock_http.post(
        ENDPOINT, payload=page_payload(limit=1, results=[{"_id": "x"}], total_results=1234)
    )
    async with make_client() as client:
        total = await client.count(CaseFilter(unresolved=True))
    assert total == 1234
    assert sent_body(calls(mock_http)[0]) == {"unresolved": True, "page": 1, "limit": 1}


async def test_get_page_with_a_projection_model(mock_http: aioresponses) -> None:
    class Row(msgspec.Struct, rename="camel"):
        id: str = msgspec.field(name="_id")
        ref_id: str | None = None

    mock_http.post(ENDPOINT, payload=page_payload())
    async with make_client() as client:
        page = await client.get_page(model=Row)
    assert page.results == [Row(id=SAMPLE["results"][0]["_id"], ref_id="CS000100")]


async def test_bad_arguments_fail_before_any_request(mock_http: aioresponses) -> None:
    async with make_client() as client:
        with pytest.raises(TypeError, match="filter"):
            await client.get_page({"status": ["open"]})  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="page_size"):
            await client.get_page(page_size=0)
        with pytest.raises(TypeError, match="model"):
            await client.get_page(model=42)
    assert calls(mock_http) == []


@pytest.mark.parametrize("page", [0, -1, True])
async def test_bad_page_names_the_page_argument(mock_http: aioresponses, page: Any) -> None:
    async with make_client() as client:
        with pytest.raises(ValueError, match="page") as info:
            await client.get_page(page=page)
    # get_page's argument is `page`; a message about `start_page` names the wrong one.
    assert "page must be" in str(info.value)
    assert "start_page" not in str(info.value)
    assert calls(mock_http) == []


# -- error mapping: transport --------------------------------------------------------------


async def test_connection_error_is_retried_then_raised(mock_http: aioresponses) -> None:
    mock_http.post(
        ENDPOINT, exception=aiohttp.ClientConnectionError("connection reset"), repeat=True
    )
    async with make_client(max_retries=2) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.get_page()
    err = info.value
    assert not isinstance(err, APITimeoutError)
    assert len(calls(mock_http)) == 3
    assert "ClientConnectionError" in str(err)
    assert "3 attempts" in str(err)
    assert err.path == PATH
    assert err.page == 1
    assert err.__cause__ is None
    assert_no_secrets(err, sent_tokens(mock_http))


async def test_connection_error_then_success(mock_http: aioresponses) -> None:
    mock_http.post(ENDPOINT, exception=aiohttp.ServerDisconnectedError())
    mock_http.post(ENDPOINT, payload=page_payload())
    async with make_client(max_retries=2) as client:
        page = await client.get_page()
    assert page.page == 1
    assert len(calls(mock_http)) == 2


async def test_timeout_becomes_api_timeout_error(mock_http: aioresponses) -> None:
    mock_http.post(ENDPOINT, exception=asyncio.TimeoutError(), repeat=True)
    async with make_client(max_retries=1, timeout=7.5) as client:
        with pytest.raises(APITimeoutError) as info:
            await client.get_page()
    err = info.value
    assert isinstance(err, APIConnectionError)
    assert len(calls(mock_http)) == 2
    assert "timeout" in str(err)
    assert "7.5" in str(err)


async def test_content_length_beyond_max_response_bytes(mock_http: aioresponses) -> None:
    body = json.dumps(page_payload())
    mock_http.post(ENDPOINT, body=body, headers={"Content-Length": str(len(body))}, repeat=True)
    async with make_client(max_response_bytes=100, max_retries=3) as client:
        with pytest.raises(ResponseTooLargeError) as info:
            await client.get_page(page=1)
    err = info.value
    assert isinstance(err, ResponseValidationError)
    assert len(calls(mock_http)) == 1
    assert "max_response_bytes=100" in str(err)
    assert err.page == 1
    assert err.path == PATH


async def test_unannounced_body_beyond_max_response_bytes(mock_http: aioresponses) -> None:
    mock_http.post(ENDPOINT, body=json.dumps(page_payload()))
    async with make_client(max_response_bytes=100) as client:
        with pytest.raises(ResponseTooLargeError, match="max_response_bytes=100"):
            await client.get_page()


async def test_body_at_max_response_bytes_is_accepted(mock_http: aioresponses) -> None:
    body = json.dumps(page_payload())
    mock_http.post(ENDPOINT, body=body, headers={"Content-Length": str(len(body))})
    mock_http.post(ENDPOINT, body=body)
    async with make_client(max_response_bytes=len(body)) as client:
        assert (await client.get_page()).total_results == 1
        assert (await client.get_page()).total_results == 1


async def test_redirect_is_not_followed(mock_http: aioresponses) -> None:
    elsewhere = "https://evil.example.net/collect"
    mock_http.post(ENDPOINT, status=302, headers={"Location": elsewhere}, repeat=True)
    mock_http.post(elsewhere, payload=page_payload(), repeat=True)
    async with make_client(max_retries=3) as client:
        with pytest.raises(APIStatusError) as info:
            await client.get_page()
    err = info.value
    assert type(err) is APIStatusError
    assert err.status_code == 302
    assert "redirect" in str(err)
    assert elsewhere in str(err)
    assert list(mock_http.requests) == [KEY]
    assert len(calls(mock_http)) == 1


# -- a failing token must not cost a turn ---------------------------------------------------


async def test_auth_failure_does_not_leak_a_concurrency_slot(mock_http: aioresponses) -> None:
    class FlakyAuth:
        def __init__(self) -> None:
            self.calls = 0

        def token(self) -> str:
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("token service unavailable")
            return "fresh-token"

    mock_http.post(ENDPOINT, payload=page_payload())
    async with make_client(auth=FlakyAuth(), concurrency=1) as client:
        with pytest.raises(RuntimeError, match="token service"):
            await client.get_page()
        # The turn taken for the failed attempt must have been given back.
        with anyio.fail_after(1.0):
            page = await client.get_page()
    assert page.total_results == 1
