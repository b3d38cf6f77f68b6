"""What each answer becomes: typed errors, retried or not, with what to fix and no secrets.

Canned answers through :class:`MockTransport`: no server, no socket. What the aiohttp
transport itself turns into errors (resets, timeouts, sizes, redirects) is in
``test_client.py``, through aioresponses.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from helpers import SAMPLE, Canned, page_payload

from kore_cases import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CasesClient,
    JwtAuth,
    KoreCasesError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    Request,
    Response,
    ResponseValidationError,
    ServerError,
    TransportError,
)

STREAM = "st-084d3c5e-376a-559f-9987-a012bb2b0000"
PATH = f"/caseManagement/api/public/analytics/{STREAM}/getCases"
SECRET = "s3cr3t-Kore-client-secret-0123456789abcdef="
OK = Response(200, json=page_payload())


def client_of(answers: Canned, **options: Any) -> CasesClient:
    settings: dict[str, Any] = {"rate_limit": None, "backoff_base": 0.0, "max_retries": 2}
    settings.update(options)
    return CasesClient(
        "https://kore.example.com",
        STREAM,
        "6639f7bd58c97ffac03b0000",
        JwtAuth("cs-0a1b2c3d-4e5f-6789-abcd-ef0123456789", SECRET),
        transport=answers.transport(),
        **settings,
    )


def assert_no_secrets(err: BaseException, tokens: list[str]) -> None:
    texts = [str(err), repr(err), repr(err.args), str(getattr(err, "server_message", ""))]
    for text in texts:
        assert SECRET not in text
        for token in tokens:
            assert token not in text


# -- statuses never retried ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "hint"),
    [
        (400, BadRequestError, "filter"),
        (401, AuthenticationError, "client id"),
        (403, PermissionDeniedError, "scope"),
        (404, NotFoundError, "stream id"),
    ],
)
async def test_client_errors_are_not_retried(
    status: int, error: type[APIStatusError], hint: str
) -> None:
    body = {"errors": [{"msg": f"the server says no ({status})", "code": status}]}
    answers = Canned(Response(status, json=body))
    async with client_of(answers, max_retries=5) as client:
        with pytest.raises(error) as info:
            await client.get_page(page=2)
    err = info.value
    assert type(err) is error
    assert len(answers.requests) == 1
    assert err.status_code == status
    assert err.server_message == f"the server says no ({status})"
    assert f"the server says no ({status})" in str(err)
    assert PATH in str(err)
    assert err.path == PATH
    assert err.page == 2
    assert hint in str(err)
    assert_no_secrets(err, answers.tokens)


async def test_server_message_from_plain_text() -> None:
    answers = Canned(Response(403, body=b"Access denied for this app"))
    async with client_of(answers) as client:
        with pytest.raises(PermissionDeniedError) as info:
            await client.get_page()
    assert info.value.server_message == "Access denied for this app"
    assert "Access denied for this app" in str(info.value)


async def test_several_server_messages_are_joined() -> None:
    body = {"errors": [{"msg": "bad status"}, {"msg": "bad priority"}]}
    async with client_of(Canned(Response(400, json=body))) as client:
        with pytest.raises(BadRequestError) as info:
            await client.get_page()
    assert info.value.server_message == "bad status; bad priority"


async def test_long_server_message_is_shortened() -> None:
    async with client_of(Canned(Response(400, body=b"x" * 5000))) as client:
        with pytest.raises(BadRequestError) as info:
            await client.get_page()
    assert info.value.server_message is not None
    assert len(info.value.server_message) <= 300
    assert len(str(info.value)) < 1000


async def test_echoed_token_is_redacted() -> None:
    def echo(request: Request) -> Response:
        token = request.headers["auth"]
        return Response(401, json={"errors": [{"msg": f"invalid token {token}"}]})

    answers = Canned(echo)
    async with client_of(answers) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.get_page()
    assert len(answers.tokens) == 1
    assert_no_secrets(info.value, answers.tokens)
    assert "invalid token ***" in str(info.value)


async def test_errors_share_the_root() -> None:
    async with client_of(Canned(Response(404))) as client:
        with pytest.raises(KoreCasesError):
            await client.get_page()


# -- retried statuses ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_retried_then_raised(status: int) -> None:
    answers = Canned(Response(status, body=b"upstream failed"))
    async with client_of(answers, max_retries=2) as client:
        with pytest.raises(ServerError) as info:
            await client.get_page()
    err = info.value
    assert len(answers.requests) == 3
    assert err.status_code == status
    assert "3 attempts" in str(err)
    assert err.server_message == "upstream failed"
    assert_no_secrets(err, answers.tokens)


async def test_408_is_retried_and_is_not_a_server_error() -> None:
    answers = Canned(Response(408))
    async with client_of(answers, max_retries=3) as client:
        with pytest.raises(APIStatusError) as info:
            await client.get_page()
    assert not isinstance(info.value, ServerError)
    assert info.value.status_code == 408
    assert len(answers.requests) == 4
    assert "4 attempts" in str(info.value)


async def test_zero_retries_means_one_attempt() -> None:
    answers = Canned(Response(503))
    async with client_of(answers, max_retries=0) as client:
        with pytest.raises(ServerError):
            await client.get_page()
    assert len(answers.requests) == 1


async def test_server_error_then_success() -> None:
    answers = Canned(Response(503), Response(502), OK)
    async with client_of(answers, max_retries=2) as client:
        page = await client.get_page()
    assert page.total_results == 1
    assert len(answers.requests) == 3


async def test_429_with_short_retry_after_is_retried() -> None:
    # Header names are matched without regard to case, as HTTP wants.
    answers = Canned(Response(429, headers={"retry-after": "0.01"}), OK)
    async with client_of(answers) as client:
        with anyio.fail_after(2.0):
            page = await client.get_page()
    assert page.results[0].ref_id == "CS000100"
    assert len(answers.requests) == 2


async def test_429s_spend_a_time_budget_not_the_retries() -> None:
    body = {"errors": [{"msg": "Rate limit for this API has been reached. Please try again later"}]}
    answers = Canned(Response(429, json=body, headers={"Retry-After": "0.01"}))
    async with client_of(answers, max_retries=1, max_rate_limit_wait=0.3) as client:
        with anyio.fail_after(3.0), pytest.raises(RateLimitError) as info:
            await client.get_page()
    err = info.value
    assert len(answers.requests) > 2  # more 429s waited out than max_retries allows
    assert err.status_code == 429
    assert err.retry_after == 0.01
    assert "Rate limit for this API has been reached" in str(err)
    assert "max_rate_limit_wait=0.3 s" in str(err)


async def test_429_beyond_max_retry_after_is_raised_at_once() -> None:
    answers = Canned(Response(429, headers={"Retry-After": "120"}))
    async with client_of(answers, max_retries=5, max_retry_after=60.0) as client:
        with anyio.fail_after(1.0), pytest.raises(RateLimitError) as info:
            await client.get_page()
    err = info.value
    assert len(answers.requests) == 1
    assert err.retry_after == 120.0
    assert err.status_code == 429
    assert "max_retry_after" in str(err)


async def test_client_usable_soon_after_a_refused_long_retry_after() -> None:
    # A Retry-After beyond max_retry_after is "not slept on but raised so that the
    # caller can decide"; the client must not then sleep it out on the next call.
    answers = Canned(Response(429, headers={"Retry-After": "3600"}), OK)
    async with client_of(answers, max_retry_after=0.2) as client:
        with pytest.raises(RateLimitError):
            await client.get_page()
        with anyio.fail_after(1.0):
            page = await client.get_page()
    assert page.total_results == 1


# -- bodies ----------------------------------------------------------------------------------


async def test_200_html_is_retried_then_connection_error() -> None:
    answers = Canned(Response(200, body=b"<html><body>502 Bad Gateway</body></html>"))
    async with client_of(answers, max_retries=2) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.get_page()
    err = info.value
    assert type(err) is APIConnectionError
    assert len(answers.requests) == 3
    assert "not JSON" in str(err)
    assert "3 attempts" in str(err)
    assert err.page == 1


@pytest.mark.parametrize(
    "body", [b'{"results": [{"_id": "ci-1"}', b'{"results": [}', b"", b"null", b'"text"']
)
async def test_unreadable_200_is_retried_then_succeeds(body: bytes) -> None:
    answers = Canned(Response(200, body=body), OK)
    async with client_of(answers, max_retries=2) as client:
        page = await client.get_page()
    assert page.total_results == 1
    assert len(answers.requests) == 2


async def test_wrong_shape_is_a_validation_error_not_retried() -> None:
    case = dict(SAMPLE["results"][0])
    del case["_id"]
    answers = Canned(Response(200, json=page_payload(page=2, results=[case])))
    async with client_of(answers, max_retries=3) as client:
        with pytest.raises(ResponseValidationError) as info:
            await client.get_page(page=2)
    err = info.value
    assert len(answers.requests) == 1
    assert err.json_path == "$.results[0]"
    assert err.page == 2
    assert err.path == PATH
    assert "page 2" in str(err)


async def test_wrong_envelope_type_names_its_path() -> None:
    payload = page_payload()
    payload["totalResults"] = "many"
    async with client_of(Canned(Response(200, json=payload))) as client:
        with pytest.raises(ResponseValidationError) as info:
            await client.get_page()
    assert info.value.json_path == "$.totalResults"


async def test_other_page_than_asked_is_a_pagination_error() -> None:
    answers = Canned(Response(200, json=page_payload(page=1, total_pages=3)))
    async with client_of(answers) as client:
        with pytest.raises(PaginationError) as info:
            await client.get_page(page=2)
    err = info.value
    assert len(answers.requests) == 1
    assert "paging='skip'" in str(err)
    assert err.page == 2


# -- a transport that gets no answer ---------------------------------------------------------


async def test_a_transport_failure_is_retried_then_a_connection_error() -> None:
    answers = Canned(TransportError("connection reset by peer"))
    async with client_of(answers, max_retries=2) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.get_page()
    err = info.value
    assert not isinstance(err, APITimeoutError)
    assert len(answers.requests) == 3
    assert "connection reset by peer" in str(err)
    assert "3 attempts" in str(err)
    assert (err.path, err.page) == (PATH, 1)
    assert_no_secrets(err, answers.tokens)


async def test_a_transport_timeout_is_an_api_timeout_error() -> None:
    answers = Canned(TransportError("no answer in 1 s", timeout=True), OK)
    async with client_of(answers, max_retries=0) as client:
        with pytest.raises(APITimeoutError, match="no answer in 1 s"):
            await client.get_page()
        assert (await client.get_page()).total_results == 1
