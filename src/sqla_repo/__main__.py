"""``python -m sqla_repo``: the same commands as the ``sqla-repo`` script."""

from __future__ import annotations

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
