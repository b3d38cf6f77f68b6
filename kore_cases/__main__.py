"""``python -m kore_cases``: the ``kore-cases`` command."""

from .cli import main

raise SystemExit(main())
