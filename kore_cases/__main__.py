"""``python -m kore_cases``: the ``kore-cases`` command."""

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the modules load: no traceback for that
    raise SystemExit(130) from None

raise SystemExit(main())
