"""What a directory holds, to show that a command left it as it was."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def snapshot(directory: Path) -> dict[str, str]:
    """Every entry of a directory: a hash of a file's bytes, or where a symlink points."""
    out: dict[str, str] = {}
    for p in sorted(directory.iterdir()):
        if p.is_symlink():
            out[p.name] = f"-> {os.readlink(p)}"
        elif p.is_dir():
            out[p.name] = f"directory {snapshot(p)}"
        else:
            out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
