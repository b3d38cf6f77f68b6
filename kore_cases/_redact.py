"""Scrub text that came from the server before it reaches an exception or a log line.

A server (or a proxy in front of it) may echo what it received: the ``auth`` token in a
redirect's ``Location``, in an error body, in a page that is not JSON, in a malformed
status line. Every piece of server text that kore-cases shows passes through
:func:`server_text`, the one place where it is decoded, redacted, put on one line and
shortened, in that order: shortening after redacting means a cut can never leave part
of a token behind.

What is redacted, each replaced by ``***``:

* every maximal run of token characters (base64url, ``.``, ``+``, ``/``, ``=``, ``~``)
  holding 8 or more consecutive characters of a secret: the whole token, and any piece
  of it that survived a cut (a body the server truncated mid-token);
* every JWT-shaped run (``eyJ`` and 8 more base64url characters: a JOSE header), so
  that tokens minted for other requests are caught as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ._http import ResponseBody

__all__ = ["REDACTED", "redact", "server_text"]

REDACTED = "***"
"""What a secret is replaced with."""

_WINDOW = 8  # the shortest piece of a secret that is redacted on its own
_TOKEN_RUN = re.compile(r"[A-Za-z0-9._~+/=-]+")
_JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}")


def redact(text: str, secrets: Iterable[str]) -> str:
    """Return ``text`` with every secret, any 8-character piece of one, and JWTs as ``***``."""
    whole = [secret for secret in secrets if secret]
    pieces: set[str] = set()
    for secret in whole:
        text = text.replace(secret, REDACTED)
        pieces.update(secret[i : i + _WINDOW] for i in range(len(secret) - _WINDOW + 1))

    def scrub(match: re.Match[str]) -> str:
        run = match.group()
        if _JWT_LIKE.search(run) or any(
            run[i : i + _WINDOW] in pieces for i in range(len(run) - _WINDOW + 1)
        ):
            return REDACTED
        return run

    return _TOKEN_RUN.sub(scrub, text)


def server_text(raw: ResponseBody | str, secrets: Iterable[str], max_chars: int) -> str:
    """Server content as safe display text: decoded, redacted, on one line, shortened."""
    # Only the start is shown; what redaction can shrink is kept in reach.
    start = raw[: 4 * max_chars + 4096]  # bytes when raw is a memory map
    text = start.decode("utf-8", "replace") if isinstance(start, bytes) else start
    text = " ".join(redact(text, secrets).split())
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"
