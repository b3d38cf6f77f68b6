"""What every part of the ``kore-cases`` command shares: its name, exit codes, usage errors."""

from __future__ import annotations

from .._ratelimit import DEFAULT_RATE_LIMIT

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "KORE_RATE_LIMITS",
    "PROG",
    "UsageError",
    "plural",
]

PROG = "kore-cases"
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# Kore's documented Case Management limit, 60 requests a minute per account: the
# client's own default, so that the command and the library cannot drift apart.
KORE_RATE_LIMITS = DEFAULT_RATE_LIMIT.windows


class UsageError(Exception):
    """A bad flag value found after parsing (exit code 2)."""


def plural(count: int, noun: str) -> str:
    """``1 case``, ``2 cases``, ``1,000 retries``."""
    if count == 1:
        return f"1 {noun}"
    return f"{count:,} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"
