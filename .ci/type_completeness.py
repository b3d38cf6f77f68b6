"""Fail when pyright finds less than FLOOR of kore_cases' public API typed.

Runs ``pyright --verifytypes kore_cases --ignoreexternal``: the share of the exported
symbols (and the symbols their signatures reach) whose type is known to every type
checker, not only to mypy. pyright finds ``kore_cases`` and its dependencies through the
``python`` on PATH, so this puts the interpreter running it first: run it with the venv's
python. (Run against a Python without msgspec, every Struct has an unknown metaclass and
the score drops to about 89%.)

``--outputjson`` keeps pyright from asking PyPI for its latest version on each run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

FLOOR = 0.95
PYRIGHT = ("-m", "pyright", "--verifytypes", "kore_cases", "--ignoreexternal", "--outputjson")


def main() -> int:
    """Print the score and each incomplete symbol; non-zero when below FLOOR."""
    venv_bin = os.path.dirname(sys.executable)
    run = subprocess.run(
        [sys.executable, *PYRIGHT],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": venv_bin + os.pathsep + os.environ.get("PATH", "")},
    )
    try:
        report = json.loads(run.stdout)["typeCompleteness"]
    except (ValueError, KeyError):
        print(run.stdout, run.stderr, sep="\n", file=sys.stderr)
        print("pyright --verifytypes gave no report", file=sys.stderr)
        return 2
    if not report.get("pyTypedPath"):
        print(f"pyright did not find kore_cases installed for {sys.executable}", file=sys.stderr)
        return 2
    for symbol in report["symbols"]:
        for diagnostic in symbol["diagnostics"]:
            print(f"{symbol['name']}: {diagnostic['message']}")
    score = report["completenessScore"]
    print(f"type completeness of kore_cases: {score:.1%} (floor {FLOOR:.0%})")
    return 0 if score >= FLOOR else 1


if __name__ == "__main__":
    sys.exit(main())
