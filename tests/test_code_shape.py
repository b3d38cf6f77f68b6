"""The size bar of the package: no function over 60 lines, no class over 250.

A part that outgrows it is doing more than one job: split it (see README, "Development").
A part that must stay larger is listed in ``OVER_THE_BAR`` with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import kore_cases

PACKAGE = Path(kore_cases.__file__).parent
MAX_FUNCTION_LINES = 60
MAX_CLASS_LINES = 250

OVER_THE_BAR: dict[str, str] = {
    # Empty: every part is under the bar. A line here needs a reason a reviewer accepts.
}


def _oversized(package: Path) -> dict[str, int]:
    """``{"path:Qualified.name": lines}`` of every class and function over the bar."""
    found: dict[str, int] = {}

    def visit(node: ast.AST, path: str, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                lines = (child.end_lineno or child.lineno) - first + 1
                bar = MAX_CLASS_LINES if isinstance(child, ast.ClassDef) else MAX_FUNCTION_LINES
                if lines > bar:
                    found[f"{path}:{name}"] = lines
                visit(child, path, name + ".")
            else:
                visit(child, path, prefix)

    for file in sorted(package.rglob("*.py")):
        path = file.relative_to(package).as_posix()
        visit(ast.parse(file.read_text(encoding="utf-8")), path, "")
    return found


def test_no_class_or_function_is_over_the_bar() -> None:
    over = {name: lines for name, lines in _oversized(PACKAGE).items() if name not in OVER_THE_BAR}
    assert not over, (
        f"over the bar ({MAX_FUNCTION_LINES} lines a function, {MAX_CLASS_LINES} a class): "
        f"{over}; split it, or list it in OVER_THE_BAR with the reason"
    )


def test_the_bar_counts_decorators_and_nested_parts(tmp_path: Path) -> None:
    def function(name: str, lines: int, indent: str = "") -> str:
        body = "".join(f"{indent}    x = {i}\n" for i in range(lines - 2))
        return f"{indent}@decorator\n{indent}def {name}():\n{body}"

    (tmp_path / "module.py").write_text(
        function("fits", 60)
        + function("long", 61)
        + "class Big:\n"
        + function("method", 62, indent="    ")
        + "".join(f"    y{i} = {i}\n" for i in range(250 - 62))
    )
    assert _oversized(tmp_path) == {
        "module.py:long": 61,
        "module.py:Big": 251,
        "module.py:Big.method": 62,
    }
