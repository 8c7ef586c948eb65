"""``python -m durascope ...``: the same command line as the ``durascope`` script."""

from __future__ import annotations

import sys

from durascope.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
