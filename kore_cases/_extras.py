"""Optional dependencies, imported when first needed, with an error naming the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingExtraError", "import_extra"]


class MissingExtraError(ImportError):
    """An optional dependency is missing; the message names the ``pip install`` to run."""


def import_extra(module: str, extra: str, what: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` saying ``what`` needs it.

    >>> import_extra("pyarrow", "parquet", "to_arrow()")  # doctest: +SKIP
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.partition(".")[0]
        raise MissingExtraError(
            f"{what} needs {package}: pip install 'kore-cases[{extra}]'"
        ) from None
