"""Checks of configuration values, shared so that every option is refused the same way.

Each returns the value (normalised) or raises :class:`ValueError` naming the option,
what it must be and what it got: the message is meant to be read by the person who
wrote the value.
"""

from __future__ import annotations

import math

__all__ = ["seconds", "whole_number"]


def whole_number(name: str, value: object, minimum: int) -> int:
    """Return ``value`` if it is an ``int`` (not a ``bool``) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, not {value!r}")
    return value


def seconds(name: str, value: object, *, zero: bool = False, infinite: bool = False) -> float:
    """Return ``value`` as a float of seconds: a number > 0 (``>= 0`` if ``zero``).

    NaN is always refused; infinity only unless ``infinite`` (a wait without end is
    rarely meant).
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or math.isnan(value)
        or value < 0
        or (value == 0 and not zero)
        or (math.isinf(value) and not infinite)
    ):
        wanted = ">= 0" if zero else "> 0"
        finite = "" if infinite else "finite "
        raise ValueError(f"{name} must be a {finite}number of seconds {wanted}, not {value!r}")
    return float(value)
