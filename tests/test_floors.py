"""The dependency floors CI installs are the ones pyproject.toml declares."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_FLOOR = re.compile(r'"([A-Za-z0-9_.-]+)>=([0-9][0-9.]*)"')
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([0-9][0-9.]*)\s*$", re.MULTILINE)


def _release(version: str) -> tuple[int, ...]:
    parts = [int(part) for part in version.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _declared() -> dict[str, str]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    runtime = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    extras = text.split("[project.optional-dependencies]", 1)[1].split("\ntest = [", 1)[0]
    floors = dict(_FLOOR.findall(runtime))
    for name in ("rich", "pyarrow", "opentelemetry-api"):
        floors[name] = dict(_FLOOR.findall(extras))[name]
    return floors


def test_every_runtime_and_extra_floor_is_pinned_for_the_floors_run() -> None:
    pins = dict(_PIN.findall((ROOT / ".ci" / "constraints-min.txt").read_text("utf-8")))
    declared = _declared()
    assert set(declared) == set(pins)
    for name, floor in declared.items():
        assert _release(pins[name]) == _release(floor), name


def test_the_floors_exclude_the_known_broken_versions() -> None:
    declared = _declared()
    # aiohttp 3.9.0 and 3.9.1 do not verify certificates with ssl=True (aiohttp #6828).
    assert _release(declared["aiohttp"]) >= (3, 9, 2)
    # kore_cases.testing imports joserfc.errors.SecurityWarning, new in joserfc 1.2.
    assert _release(declared["joserfc"]) >= (1, 2)
