"""The public facade: ``kore_cases.__all__`` and the documented error tree."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import inspect
import pkgutil
import re
from types import ModuleType

import pytest

import kore_cases
from kore_cases import errors

CONTRACT = {
    # DESIGN.md, "Public contract".
    "CasesClient",
    "CaseFilter",
    "JwtAuth",
    "StaticToken",
    "RateLimit",
    "Case",
    "CasesPage",
    "KoreCasesError",
    "APIStatusError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "APIConnectionError",
    "APITimeoutError",
    "ResponseValidationError",
    "PaginationError",
}

# The exceptions; errors.py also holds ErrorDetail, an entry of a status error's list.
ERROR_NAMES = sorted(name for name in errors.__all__ if name != "ErrorDetail")


def test_all_holds_the_contract() -> None:
    assert set(kore_cases.__all__) >= CONTRACT


def test_all_holds_every_error() -> None:
    assert set(errors.__all__) <= set(kore_cases.__all__)


@pytest.mark.parametrize("name", kore_cases.__all__)
def test_every_name_is_importable(name: str) -> None:
    module = importlib.import_module("kore_cases")
    assert hasattr(module, name)
    namespace: dict[str, object] = {}
    exec(f"from kore_cases import {name}", namespace)
    assert namespace[name] is getattr(kore_cases, name)


def test_version() -> None:
    assert isinstance(kore_cases.__version__, str)
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)*", kore_cases.__version__)
    assert kore_cases.__version__ == importlib.metadata.version("kore-cases")


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from kore_cases import *", namespace)
    names = {n for n in namespace if n != "__builtins__"}
    assert names == set(kore_cases.__all__)


def test_public_objects_do_not_come_from_tests_or_private_names() -> None:
    for name in kore_cases.__all__:
        obj = getattr(kore_cases, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__module__.startswith("kore_cases"), (name, obj.__module__)


# -- every public module ------------------------------------------------------------------

PUBLIC_MODULES = ["kore_cases"] + [
    info.name
    for info in pkgutil.walk_packages(kore_cases.__path__, "kore_cases.")
    if not any(part.startswith("_") for part in info.name.split("."))
]


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then the rest: the order ruff's RUF022 keeps."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def _documented_in_source(module: ModuleType, name: str) -> bool:
    """``name`` is assigned in ``module`` with a docstring under it, or imported from a
    module that does so (how a constant or a type alias is documented)."""
    tree = ast.parse(inspect.getsource(module))
    for statement, following in zip(tree.body, [*tree.body[1:], None], strict=True):
        if isinstance(statement, ast.ImportFrom) and name in {a.name for a in statement.names}:
            source = importlib.import_module(
                "." * statement.level + (statement.module or ""), module.__package__
            )
            return _documented_in_source(source, name)
        targets = (
            statement.targets
            if isinstance(statement, ast.Assign)
            else [statement.target]
            if isinstance(statement, ast.AnnAssign)
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            )
    return False


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_module_has_a_sorted_documented_all(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = module.__all__
    assert names == sorted(names, key=_isort_key), "keep __all__ sorted (ruff's RUF022 order)"
    assert len(names) == len(set(names))
    assert inspect.getdoc(module)
    for name in names:
        obj = getattr(module, name)  # every listed name exists
        if name == "__version__":
            continue
        if inspect.isclass(obj) or inspect.isroutine(obj):
            own = vars(obj).get("__doc__") if inspect.isclass(obj) else obj.__doc__
            assert (own or "").strip(), f"{module_name}.{name} has no docstring"
        else:
            assert _documented_in_source(module, name), f"{module_name}.{name}: no docstring"


def test_the_public_modules_are_the_ones_documented() -> None:
    # A new public module must be a decision: add it here, with its __all__ and docstrings.
    assert set(PUBLIC_MODULES) == {
        "kore_cases",
        "kore_cases.auth",
        "kore_cases.blocking",
        "kore_cases.cli",
        "kore_cases.errors",
        "kore_cases.filters",
        "kore_cases.hooks",
        "kore_cases.models",
        "kore_cases.pytest_plugin",
        "kore_cases.tables",
        "kore_cases.testing",
    }


# -- the error tree ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        ("APIError", "KoreCasesError"),
        ("APIStatusError", "APIError"),
        ("BadRequestError", "APIStatusError"),
        ("AuthenticationError", "APIStatusError"),
        ("PermissionDeniedError", "APIStatusError"),
        ("NotFoundError", "APIStatusError"),
        ("RateLimitError", "APIStatusError"),
        ("ServerError", "APIStatusError"),
        ("APIConnectionError", "APIError"),
        ("APITimeoutError", "APIConnectionError"),
        ("ResponseValidationError", "APIError"),
        ("ResponseTooLargeError", "ResponseValidationError"),
        ("PaginationError", "KoreCasesError"),
    ],
)
def test_error_tree(child: str, parent: str) -> None:
    child_cls = getattr(kore_cases, child)
    parent_cls = getattr(kore_cases, parent)
    assert child_cls.__bases__ == (parent_cls,)


@pytest.mark.parametrize("name", ERROR_NAMES)
def test_every_error_derives_from_the_root(name: str) -> None:
    cls = getattr(kore_cases, name)
    assert issubclass(cls, kore_cases.KoreCasesError)
    assert issubclass(cls, Exception)


def test_branches_do_not_cross() -> None:
    assert not issubclass(kore_cases.APITimeoutError, kore_cases.APIStatusError)
    assert not issubclass(kore_cases.RateLimitError, kore_cases.APIConnectionError)
    assert not issubclass(kore_cases.ResponseValidationError, kore_cases.APIStatusError)
    assert not issubclass(kore_cases.PaginationError, kore_cases.APIError)
    assert not issubclass(kore_cases.ServerError, kore_cases.APIConnectionError)


def _tree_from_docstring() -> dict[str, str]:
    """Parse the tree drawn in errors.py's docstring into {class: parent}."""
    doc = errors.__doc__ or ""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        match = re.match(r"^(\s*(?:[│ ]\s*)*(?:[├└]── )?)(\w+Error)\b", line)
        if not match:
            continue
        depth = len(match.group(1))
        name = match.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_error_tree_matches_the_drawing_in_errors_docstring() -> None:
    drawn = _tree_from_docstring()
    assert set(drawn) | {"KoreCasesError"} == set(ERROR_NAMES)
    for name, parent in drawn.items():
        assert getattr(errors, name).__bases__ == (getattr(errors, parent),), name


def test_status_errors_carry_their_attributes() -> None:
    err = kore_cases.RateLimitError(
        "HTTP 429", server_message="slow down", path="/p", page=3, retry_after=2.5
    )
    assert err.status_code == 429
    assert err.retry_after == 2.5
    assert err.server_message == "slow down"
    assert err.path == "/p"
    assert err.page == 3
    assert err.resume_page is None
    assert str(err) == "HTTP 429"
    validation = kore_cases.ResponseValidationError("bad", json_path="$.results[0]", page=1)
    assert validation.json_path == "$.results[0]"


def test_resume_page_is_shown_in_the_message() -> None:
    err = kore_cases.ServerError("HTTP 503", status_code=503, page=4)
    err.resume_page = 4
    assert str(err) == "HTTP 503 (resume with start_page=4)"
