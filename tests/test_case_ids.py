"""The id memory behind ``dedupe=True``: a compact hash set that must act as a ``set``."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kore_cases._case_ids import HashSlots, SeenIdHashes

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# Keys that share their low bits land on the same slot and must probe past each other.
CLASHING = st.integers(min_value=-(2**40), max_value=2**40).map(lambda k: k << 20)
KEYS = st.lists(st.one_of(INT64, CLASHING, st.sampled_from([0, 1, -1])), max_size=3000)


class TestHashSlots:
    @given(KEYS)
    def test_acts_as_a_set(self, keys: list[int]) -> None:
        slots, reference = HashSlots(), set[int]()
        for key in keys:
            assert slots.add(key) is (key not in reference)
            reference.add(key)
        assert len(slots) == len(reference)
        assert all(key in slots for key in reference)

    @given(KEYS, KEYS)
    def test_answers_membership_of_keys_never_added(
        self, added: list[int], asked: list[int]
    ) -> None:
        slots = HashSlots()
        for key in added:
            slots.add(key)
        assert [k in slots for k in asked] == [k in set(added) for k in asked]

    def test_grows_past_its_first_table_and_keeps_every_key(self) -> None:
        slots = HashSlots()
        keys = [k * 1024 + 7 for k in range(50_000)]  # all on one slot of the first table
        assert all(slots.add(k) for k in keys)
        assert not any(slots.add(k) for k in keys)
        assert len(slots) == 50_000


class TestSeenIdHashes:
    @given(st.lists(st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=30), max_size=8))
    def test_hands_out_each_id_once_and_every_case_without_one(
        self, pages: list[list[str | None]]
    ) -> None:
        seen = SeenIdHashes(lambda case: case["_id"])
        handed: list[dict[str, Any]] = []
        for page in pages:
            cases = [{"_id": i} for i in page]
            handed += seen.new_only(cases, [hash(i) for i in page])
        ids = [c["_id"] for c in handed]
        every = [i for page in pages for i in page]
        assert [i for i in ids if i is not None] == list(
            dict.fromkeys(i for i in every if i is not None)
        )
        assert ids.count(None) == every.count(None)
