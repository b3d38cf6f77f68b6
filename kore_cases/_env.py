"""Settings from ``KORE_*`` environment variables, for ``CasesClient.from_env()``.

Connection: ``KORE_HOST``, ``KORE_STREAM_ID``, ``KORE_ACCOUNT_ID`` and either
``KORE_CLIENT_ID`` + ``KORE_CLIENT_SECRET`` (a :class:`~kore_cases.JwtAuth`) or
``KORE_JWT`` (a :class:`~kore_cases.StaticToken`). Options: ``KORE_MAX_RETRIES``,
``KORE_TIMEOUT``, ``KORE_RATE_LIMIT`` (``60/60``; several windows separated by commas;
``none`` for no limit), ``KORE_RATE_STORE`` (a Redis or Valkey URL sharing the account's
budget across processes) and ``KORE_LOG`` (``debug`` or ``info``: the ``kore_cases``
logger writes to stderr at that level, as ``OPENAI_LOG`` does for openai).

Options passed to ``from_env`` win over the variables. A variable that is set but
unusable is an error naming it; an empty one counts as unset. :func:`auth_from` is the
one mapping of the auth variables, the command line's too (its flags come first).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any

from ._checks import seconds, whole_number
from ._ratelimit import DEFAULT_RATE_LIMIT, RateLimit, parse_rate_window
from .auth import Auth, JwtAuth, StaticToken

__all__ = ["auth_from", "client_arguments", "configure_logging"]

_AUTH_VARIABLES = ("KORE_CLIENT_ID", "KORE_CLIENT_SECRET", "KORE_JWT")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
_LOG_FORMAT = "[%(asctime)s %(name)s %(levelname)s] %(message)s"


def client_arguments(env: Mapping[str, str], given: Mapping[str, Any]) -> dict[str, Any]:
    """Constructor keywords: ``given`` first, then what ``env`` says.

    Raises:
        ValueError: a required setting is neither given nor set (all such are named at
            once), or a variable is set to something unusable.
    """
    arguments = dict(given)
    missing: list[str] = []
    for key, name in (
        ("host", "KORE_HOST"),
        ("stream_id", "KORE_STREAM_ID"),
        ("account_id", "KORE_ACCOUNT_ID"),
    ):
        if key not in arguments:
            if env.get(name):
                arguments[key] = env[name]
            else:
                missing.append(name)
    if "auth" not in arguments:
        auth = auth_from(env, missing)
        if auth is not None:
            arguments["auth"] = auth
    if missing:
        raise ValueError(f"set the environment variable(s) {', '.join(missing)}")
    for key, name, parse in _OPTIONS:
        # A Retry given explicitly holds its own max_retries: the variable yields to it.
        overridden = key in arguments or (key == "max_retries" and "retry" in arguments)
        if not overridden and env.get(name):
            arguments[key] = _parsed(name, env[name], parse)
    store = env.get("KORE_RATE_STORE", "").strip()
    rate = arguments.get("rate_limit", DEFAULT_RATE_LIMIT)
    if store and "rate_limit" not in given and isinstance(rate, RateLimit):
        arguments["rate_limit"] = _parsed("KORE_RATE_STORE", store, lambda _, url: rate.stored(url))
    return arguments


def auth_from(
    variables: Mapping[str, str | None],
    missing: list[str],
    name: Callable[[str], str] = str,
) -> Auth | None:
    """The auth that ``KORE_*`` ``variables`` name, or ``None`` with what to set in ``missing``.

    ``KORE_CLIENT_ID`` + ``KORE_CLIENT_SECRET`` make a :class:`JwtAuth`; else ``KORE_JWT``
    a :class:`StaticToken`. An empty value counts as unset. Of a half pair only the missing
    half is named; ``name`` spells a variable in that note (the command line adds its flag).
    """
    client_id, secret, token = (variables.get(v) for v in _AUTH_VARIABLES)
    if client_id and secret:
        return JwtAuth(client_id, secret)
    if token:
        return StaticToken(token)
    if client_id or secret:
        missing.append(name("KORE_CLIENT_SECRET" if client_id else "KORE_CLIENT_ID"))
    else:
        ids, secrets, tokens = map(name, _AUTH_VARIABLES)
        missing.append(f"{ids} and {secrets}, or {tokens}")
    return None


def _parsed(name: str, text: str, parse: Callable[[str, str], Any]) -> Any:
    try:
        return parse(name, text.strip())
    except ValueError as exc:
        raise ValueError(f"{exc} (from the environment)") from None


def _max_retries(name: str, text: str) -> int:
    try:
        number: object = int(text)
    except ValueError:
        number = text
    return whole_number(name, number, 0)


def _timeout(name: str, text: str) -> float:
    try:
        number: object = float(text)
    except ValueError:
        number = text
    return seconds(name, number)


def _rate_limit(name: str, text: str) -> RateLimit | None:
    if text.lower() == "none":
        return None
    try:
        return RateLimit(*map(parse_rate_window, text.split(",")))
    except ValueError as exc:
        raise ValueError(
            f"{name}={text!r}: {exc} (separate several windows with commas; 'none' for no limit)"
        ) from None


_OPTIONS: tuple[tuple[str, str, Callable[[str, str], Any]], ...] = (
    ("max_retries", "KORE_MAX_RETRIES", _max_retries),
    ("timeout", "KORE_TIMEOUT", _timeout),
    ("rate_limit", "KORE_RATE_LIMIT", _rate_limit),
)


def configure_logging(env: Mapping[str, str]) -> None:
    """Follow ``KORE_LOG``: send the ``kore_cases`` log to stderr at that level.

    Does nothing when it is unset; adds its stderr handler only once however often it
    is called, and never touches the root logger.
    """
    text = env.get("KORE_LOG", "").strip().lower()
    if not text:
        return
    if text not in _LEVELS:
        raise ValueError(f"KORE_LOG must be 'debug' or 'info', not {env['KORE_LOG']!r}")
    logger = logging.getLogger("kore_cases")
    logger.setLevel(_LEVELS[text])
    if not any(isinstance(h, _EnvHandler) for h in logger.handlers):
        handler = _EnvHandler()
        handler.setFormatter(logging.Formatter(_LOG_FORMAT))
        logger.addHandler(handler)


class _EnvHandler(logging.Handler):
    """What ``KORE_LOG`` installs: records on the *current* ``sys.stderr``, once."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)
