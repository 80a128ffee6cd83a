"""``python -m gdfast``: the same as the ``gdfast`` console script."""

from .cli import main

raise SystemExit(main())
