"""The two ways an error learns more once built: ``with_note`` and ``resume_at``.

Errors are built once with everything they say; text learnt later (a request that gave
up, a 429 waited out too long) makes a new error of the same class, and a pull tells an
error where to resume in one place. Neither needs a server.
"""

from __future__ import annotations

import pytest

from kore_cases import (
    APIConnectionError,
    KoreCasesError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    TimeWindow,
)
from kore_cases.errors import ErrorDetail, resume_at, with_note

WINDOW = TimeWindow("2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z")


def rate_limited() -> RateLimitError:
    return RateLimitError(
        "HTTP 429 from POST /p (page 3): slow down",
        server_message="slow down",
        path="/p",
        page=3,
        errors=[ErrorDetail(msg="slow down", code=429)],
        headers={"X-Request-Id": "req-7", "Retry-After": "2"},
        request_id="req-7",
        retry_after=2.0,
    )


class TestWithNote:
    def test_a_status_error_keeps_every_attribute(self) -> None:
        error = rate_limited()
        told = with_note(error, " (gave up after 3 attempts)")
        assert type(told) is RateLimitError
        assert told is not error
        assert (
            told.message == "HTTP 429 from POST /p (page 3): slow down (gave up after 3 attempts)"
        )
        assert str(told) == told.message
        assert (told.status_code, told.retry_after, told.request_id) == (429, 2.0, "req-7")
        assert (told.page, told.path, told.server_message) == (3, "/p", "slow down")
        assert told.errors == (ErrorDetail(msg="slow down", code=429),)
        assert told.headers["x-request-id"] == "req-7"
        assert dict(told.headers) == dict(error.headers)
        assert told.resume_page is None
        assert told.resume_window is None
        assert vars(told) == vars(error)  # nothing a subclass adds can be left behind

    def test_the_error_told_first_is_left_as_it_was(self) -> None:
        error = ServerError("HTTP 503", status_code=503, page=1, path="/p")
        with_note(error, "; more")
        assert error.message == "HTTP 503"
        assert error.args == ("HTTP 503",)

    def test_the_resume_hint_and_class_specific_fields_come_along(self) -> None:
        error = ResponseTooLargeError("too large", json_path="$.x", path="/p", page=2)
        resume_at(error, 2, WINDOW)
        told = with_note(error, "; refused")
        assert isinstance(told, ResponseTooLargeError)
        assert told.json_path == "$.x"
        assert told.resume_window == WINDOW
        assert str(told) == f"too large; refused (resume with start_window={WINDOW}, start_page=2)"

    def test_a_page_given_replaces_the_page_of_the_new_error_only(self) -> None:
        error = rate_limited()
        told = with_note(error, "; while learning", page=None)
        assert told.page is None
        assert error.page == 3
        assert {k: v for k, v in vars(told).items() if k != "page"} == {
            k: v for k, v in vars(error).items() if k != "page"
        }
        assert with_note(error, "; more").page == 3  # not given: carried over

    def test_the_new_error_has_no_traceback_of_its_own(self) -> None:
        try:
            raise APIConnectionError("reset", page=1)
        except APIConnectionError as raised:
            told = with_note(raised, " (gave up after 1 attempt)")
        assert told.__traceback__ is None
        assert told.__cause__ is None
        assert told.__context__ is None


class TestResumeAt:
    def test_a_pull_gives_its_page(self) -> None:
        error = KoreCasesError("boom", page=5)
        resume_at(error, 4)
        assert (error.resume_page, error.resume_window) == (4, None)
        assert str(error) == "boom (resume with start_page=4)"

    def test_the_innermost_page_is_kept_and_the_window_added(self) -> None:
        error = KoreCasesError("boom", page=5)
        resume_at(error, 4)  # the window's own page iterator
        resume_at(error, 1, WINDOW)  # then the windowed pull around it
        assert (error.resume_page, error.resume_window) == (4, WINDOW)

    def test_a_windowed_pull_gives_its_page_when_no_window_did(self) -> None:
        error = KoreCasesError("boom")
        resume_at(error, 1, WINDOW)
        assert (error.resume_page, error.resume_window) == (1, WINDOW)


def test_message_is_read_only() -> None:
    error = KoreCasesError("boom")
    with pytest.raises(AttributeError):
        error.message = "other"  # type: ignore[misc]
    assert error.message == "boom"
