"""Writing a command's output file without ever destroying the input it read.

An output path can name the input without being spelled like it: through a
symlink, a hard link, ``..`` or, for a SQLite store, one of the files SQLite
keeps beside it (committed data of a WAL-mode store lives in its ``-wal`` until
a checkpoint).  ``refuse_input_as_output`` compares resolved paths and, for
files that exist, inodes.

``write_atomically`` writes a new output, or replaces a plain one, through a
temporary file in the output's directory renamed into place, so a failed write
leaves neither a half-written file nor a clobbered previous one.  A rename
would replace whatever the path names, so anything it would lose is written in
place instead: a device (``/dev/null``), a FIFO, a descriptor (``/dev/stdout``,
``/dev/fd/N``: a pipe, or the file a shell redirected to), a file with other
hard links, a file whose owner the new one could not keep.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
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
    """Write ``data`` to ``path``: all at once where a rename may replace it, else in place.

    A new output, or an existing regular file with one link, is replaced by a
    temporary file beside the real target (an output that is a symlink is written
    through, as a plain write would), created with the mode a new file gets
    (``0o666`` less the umask) or the existing output's mode and owner, and
    removed when anything fails.  Anything else is written in place (see the
    module's docstring): it stays the file, device or pipe it was.

    Raises:
        OSError: The directory is missing or read-only, the disk is full, ``path``
            is a directory; the message names ``path``.  A replaced output is then
            as it was.
    """
    try:
        _write(path, data)
    except OSError as exc:
        # The temporary file's name means nothing to the user, and a message naming
        # it (or two paths, for a failed rename) hides which output failed.
        if exc.errno is None:
            raise OSError(f"{os.fspath(path)}: {exc}") from None
        raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), os.fspath(path)) from None


DESCRIPTOR_PATHS = ("/dev/stdin", "/dev/stdout", "/dev/stderr")
DESCRIPTOR_DIRS = ("/dev/fd/", "/proc/")


def _write(path: str | Path, data: bytes) -> None:
    spelled = os.path.abspath(path)
    if spelled in DESCRIPTOR_PATHS or spelled.startswith(DESCRIPTOR_DIRS):
        # A descriptor resolves to the file behind it, which a rename would
        # replace (the shell's redirect target), or to no path at all (a pipe).
        # Appending is what writing to the descriptor itself does, after ``>>`` too.
        _write_in_place(path, data, os.O_APPEND)
        return
    try:
        existing: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        existing = None
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        _write_in_place(path, data, 0)  # a device or FIFO: it must stay one
    elif existing is not None and existing.st_nlink > 1:
        _write_in_place(path, data, os.O_TRUNC)  # a rename would cut the other links
    elif not _replace(Path(os.path.realpath(path)), data, existing):
        _write_in_place(path, data, os.O_TRUNC)


def _replace(target: Path, data: bytes, existing: os.stat_result | None) -> bool:
    """Write a temporary file and rename it over ``target``; False if its owner cannot be kept."""
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            if existing is not None:
                if not _keep_owner(fh.fileno(), existing):
                    temp.unlink()
                    return False
                # After the owner: changing it may clear set-id bits.  A new file
                # keeps the mode the umask gave it at creation.
                os.fchmod(fh.fileno(), existing.st_mode & 0o7777)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return True


def _keep_owner(fd: int, existing: os.stat_result) -> bool:
    mine = os.fstat(fd)
    if (mine.st_uid, mine.st_gid) == (existing.st_uid, existing.st_gid):
        return True
    try:
        os.fchown(fd, existing.st_uid, existing.st_gid)
    except OSError:  # only root may give a file away
        return False
    return True


def _write_in_place(path: str | Path, data: bytes, flags: int) -> None:
    # No O_CREAT: the file was there a moment ago, and one gone since is an error.
    fd = os.open(path, os.O_WRONLY | flags)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        if stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            os.fsync(fh.fileno())  # a pipe or a device cannot be synced (EINVAL)
