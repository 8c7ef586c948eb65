"""Writing a command's output file without ever destroying the input it read.

An output path can name the input without being spelled like it: through a
symlink, a hard link, ``..`` or, for a SQLite store, one of the files SQLite
keeps beside it (committed data of a WAL-mode store lives in its ``-wal`` until
a checkpoint).  ``refuse_input_as_output`` compares resolved paths and, for
files that exist, inodes.

``write_atomically`` writes to a temporary file in the output's directory and
renames it into place, so a failed write leaves neither a half-written file nor
a clobbered previous one.
"""

from __future__ import annotations

import os
import secrets
from contextlib import suppress
from pathlib import Path

from durascope.replay._model import SourceError

SQLITE_SIDECARS = ("-wal", "-shm", "-journal")
"""Files SQLite keeps beside a database ``X``: ``X-wal``, ``X-shm``, ``X-journal``."""


def refuse_input_as_output(output: str | Path, source: str | Path) -> None:
    """Refuse an output path that is the input file or one of its SQLite sidecars.

    Args:
        output: Where the command would write.
        source: The file the command reads.

    Raises:
        SourceError: ``output`` resolves to ``source`` or to one of its ``-wal``,
            ``-shm`` or ``-journal`` files (one line saying which).
    """
    out_real = os.path.realpath(output)
    # SQLite follows a symlinked database to its target and keeps the sidecars
    # there, but the path as named is checked too: it costs nothing.
    bases = dict.fromkeys((os.path.realpath(source), os.path.abspath(source)))
    for base in bases:
        for suffix in ("", *SQLITE_SIDECARS):
            protected = f"{base}{suffix}"
            if out_real == os.path.realpath(protected) or _same_existing_file(output, protected):
                what = "the input" if suffix == "" else f"the input's SQLite {suffix} file"
                raise SourceError(f"{output}: the output path is {what}: refusing to overwrite it")


def _same_existing_file(a: str | Path, b: str | Path) -> bool:
    """Whether both exist and are one file (hard links, case-insensitive file systems)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def write_atomically(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all at once: a temporary file renamed into place.

    The temporary file sits beside the real target (an output that is a symlink is
    written through, as a plain write would), is created with the mode a new file
    gets (``0o666`` less the umask) or an existing output's mode, and is removed
    when anything fails.

    Raises:
        OSError: The directory is missing or read-only, the disk is full, ``path``
            is a directory; ``path`` is then as it was.
    """
    target = Path(os.path.realpath(path))
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # A new file keeps the mode the umask gave it at creation.
        with suppress(FileNotFoundError):
            os.chmod(temp, target.stat().st_mode & 0o7777)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
