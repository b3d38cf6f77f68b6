"""Case ids in a pull: reading them from any model, and remembering those handed out.

A page's ids are hashed once (:class:`CaseKeys`); the hashes serve both ``dedupe``
(:class:`SeenIdHashes`, 8 to 32 bytes per case in a :class:`HashSlots` table) and the
continuity tracker's comparison of adjacent pages.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Callable
from typing import Any

import msgspec

__all__ = ["CaseKeys", "HashSlots", "SeenIdHashes"]

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


class HashSlots:
    """A set of 64-bit hashes in one flat array: 8 bytes a slot instead of ~80 per entry.

    A Python ``set`` of 200,000 ints holds an int object and a table slot for each, about
    80 bytes, which was a quarter of the memory of pulling 200,000 cases into a frame.
    Here the hashes live in an ``array('q')`` probed linearly (Python's string hashes are
    already spread, so ``hash & mask`` is a fair slot), kept at most half full; 0 marks an
    empty slot, so the hash 0 itself is remembered apart.
    """

    _START = 1024

    def __init__(self) -> None:
        self._slots = array("q", bytes(8 * self._START))
        self._count = 0
        self._has_zero = False

    def __len__(self) -> int:
        return self._count + self._has_zero

    def __contains__(self, key: int) -> bool:
        return self._has_zero if key == 0 else self._slots[_slot(self._slots, key)] == key

    def add(self, key: int) -> bool:
        """Remember ``key``; ``True`` when it was not there yet."""
        if key == 0:
            new, self._has_zero = not self._has_zero, True
            return new
        slots = self._slots
        i = _slot(slots, key)
        if slots[i] == key:
            return False
        slots[i] = key
        self._count += 1
        if 2 * self._count > len(slots):
            old = slots
            self._slots = slots = array("q", bytes(16 * len(old)))
            for held in old:
                if held:
                    slots[_slot(slots, held)] = held
        return True


def _slot(slots: array[int], key: int) -> int:
    """Where ``key`` is in ``slots``, or the empty slot where it would go."""
    mask = len(slots) - 1  # a power of two
    i = key & mask
    while (held := slots[i]) != 0 and held != key:
        i = (i + 1) & mask
    return i


class SeenIdHashes:
    """The case ids a pull has handed out, as hashes (see :class:`HashSlots`)."""

    def __init__(self, case_id: Callable[[Any], Any]) -> None:
        self._case_id = case_id
        self._hashes = HashSlots()

    def new_only(self, cases: list[Any], keys: list[int]) -> list[Any]:
        """Return the cases whose id was not seen yet, and remember their ids."""
        remember = self._hashes.add
        kept = []
        for key, case in zip(keys, cases, strict=True):
            if key == _NONE_HASH and self._case_id(case) is None:
                kept.append(case)  # nothing to dedupe on: never drop a case for it
            elif remember(key):
                kept.append(case)
        return cases if len(kept) == len(cases) else kept


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
