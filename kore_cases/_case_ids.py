"""Case ids in a pull: reading them from any model, and remembering those handed out.

A page's ids are hashed once (:class:`CaseKeys`); the hashes serve both ``dedupe``
(:class:`SeenIdHashes`, about 100 bytes per case) and the continuity tracker's comparison
of adjacent pages.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import msgspec

__all__ = ["CaseKeys", "SeenIdHashes"]

_NONE_HASH = hash(None)


class CaseKeys:
    """Hashes of the case ids of ``model`` instances; no keys when it has no id."""

    def __init__(self, model: Any, *, required: bool) -> None:
        self.case_id = _id_getter(model)
        if self.case_id is None and required:
            raise ValueError(
                f"dedupe=True needs the model to expose the case id, and {model!r} does "
                "not: add `id: str = msgspec.field(name='_id')` to it, or pass dedupe=False"
            )

    def of(self, cases: list[Any]) -> list[int]:
        """The hashed ids of ``cases``, in order (empty without an id to read)."""
        if self.case_id is None:
            return []
        return [hash(i) for i in map(self.case_id, cases)]

    @staticmethod
    def comparable(keys: list[int]) -> list[int]:
        """``keys`` without those of cases whose id is missing: they compare to nothing."""
        return [k for k in keys if k != _NONE_HASH] if _NONE_HASH in keys else keys


class SeenIdHashes:
    """The case ids a pull has handed out, as hashes: about 100 bytes per case."""

    def __init__(self, case_id: Callable[[Any], Any]) -> None:
        self._case_id = case_id
        self._hashes: set[int] = set()

    def new_only(self, cases: list[Any], keys: list[int]) -> list[Any]:
        """Return the cases whose id was not seen yet, and remember their ids."""
        # The common case, all in C: every id new, distinct, and not None.
        distinct = _NONE_HASH not in keys and len(set(keys)) == len(keys)
        if distinct and self._hashes.isdisjoint(keys):
            self._hashes.update(keys)
            return cases
        kept = []
        for key, case in zip(keys, cases, strict=True):
            if key == _NONE_HASH and self._case_id(case) is None:
                kept.append(case)  # nothing to dedupe on: never drop a case for it
            elif key not in self._hashes:
                self._hashes.add(key)
                kept.append(case)
        return kept


class _IdOnly(msgspec.Struct, gc=False):
    id: Any = msgspec.field(default=None, name="_id")


_ID_ONLY = msgspec.json.Decoder(_IdOnly)


def _raw_id(raw: msgspec.Raw) -> Any:
    """The ``_id`` of a case kept as its JSON bytes (the rest is skipped, not built)."""
    try:
        return _ID_ONLY.decode(raw).id
    except msgspec.DecodeError:
        return None


def _id_getter(model: Any) -> Callable[[Any], Any] | None:
    """How to read a case's id from a decoded ``model`` instance, if it has one."""
    if model is dict:
        return operator.methodcaller("get", "_id")
    if model is msgspec.Raw:
        return _raw_id
    if (
        isinstance(model, type)
        and issubclass(model, msgspec.Struct)
        and "id" in model.__struct_fields__
    ):
        return operator.attrgetter("id")
    return None
