"""``python -m durascope.tui PATH [--instance ID] [--allow-writes]`` (as ``durascope tui``)."""

from __future__ import annotations

import argparse
import sys

from durascope.replay import SourceError, safe_text
from durascope.tui.app import run_tui


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the TUI; bad input is one line and exit code 2."""
    parser = argparse.ArgumentParser(prog="python -m durascope.tui")
    parser.add_argument("path", metavar="PATH")
    parser.add_argument("--instance", metavar="ID")
    parser.add_argument("--allow-writes", action="store_true")
    args = parser.parse_args(argv)
    try:
        return run_tui(args.path, instance=args.instance, allow_writes=args.allow_writes)
    except SourceError as exc:
        print(f"durascope: error: {safe_text(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
