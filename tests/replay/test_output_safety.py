"""``export -o`` and ``render -o`` never destroy the input, and never leave half a file.

- An output that resolves to the input (a symlink either way, a hard link, ``..``)
  or to one of its SQLite sidecars (``-wal``, ``-shm``, ``-journal``) is refused
  with one line and exit 2, and nothing is written: on a WAL-mode duroxide store
  the committed data lives in the ``-wal``.
- The file is written to a temporary name beside it and renamed into place: a
  failed write leaves an existing output as it was and no temporary file behind;
  an existing output keeps its mode and owner, and a symlinked output is written
  through.
- What a rename would replace or cut is written in place: a device stays a
  device, a FIFO a FIFO, ``/dev/stdout`` gets the bundle, a hard-linked output
  keeps its links.
- A failure names the user's output path, never the temporary file.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from durascope.replay import load_bundle, open_model
from tests.directory import snapshot
from tests.reliability.hostile import check_clean, run_cli

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_STORE = ROOT / "fixtures" / "scenarios.db"


def refused(args: list[object], directory: Path) -> str:
    """Run a command that must be refused and return its one line; ``directory`` is unchanged."""
    before = snapshot(directory)
    code, stdout, stderr = run_cli([str(a) for a in args])
    check_clean(args, code, stdout, stderr)
    assert code == 2, stderr
    assert "refusing to overwrite" in stderr and "opened" not in stderr
    assert snapshot(directory) == before
    return stderr


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "s.db"
    shutil.copyfile(SCENARIO_STORE, path)
    return path


Layout = Callable[[Path], tuple[Path, Path]]
"""Given the store, makes links as needed and returns ``(input, output)``."""


def _symlinked_input(store: Path) -> tuple[Path, Path]:
    (store.parent / "link.db").symlink_to(store.name)
    return store.parent / "link.db", store


def _symlinked_output(store: Path) -> tuple[Path, Path]:
    (store.parent / "out.json").symlink_to(store.name)
    return store, store.parent / "out.json"


def _hard_link(store: Path) -> tuple[Path, Path]:
    os.link(store, store.parent / "hard.db")
    return store, store.parent / "hard.db"


def _dotdot(store: Path) -> tuple[Path, Path]:
    (store.parent / "sub").mkdir()
    return store, store.parent / "sub" / ".." / store.name


def _sidecar(suffix: str) -> Layout:
    def layout(store: Path) -> tuple[Path, Path]:
        return store, Path(f"{store}{suffix}")

    return layout


def _sidecar_of_symlinked_input(store: Path) -> tuple[Path, Path]:
    (store.parent / "link.db").symlink_to(store.name)
    return store.parent / "link.db", Path(f"{store}-wal")


LAYOUTS: dict[str, Layout] = {
    "symlinked input": _symlinked_input,
    "symlinked output": _symlinked_output,
    "hard link": _hard_link,
    "dotdot": _dotdot,
    "-wal": _sidecar("-wal"),
    "-shm": _sidecar("-shm"),
    "-journal": _sidecar("-journal"),
    "the real file's -wal, through a symlinked input": _sidecar_of_symlinked_input,
}


@pytest.mark.parametrize("command", ["export", "render"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_an_output_that_is_the_input_is_refused(store: Path, layout: str, command: str) -> None:
    source, output = LAYOUTS[layout](store)
    extra = ["--instance", "legacy-loop"] if command == "render" else []
    line = refused([command, source, *extra, "-o", output], store.parent)
    assert line.startswith(f"durascope: error: {output}: the output path is the input")
    if layout.startswith("-"):
        assert f"the input's SQLite {layout} file" in line
    model = open_model(store)  # still the store it was
    try:
        assert model.instances
    finally:
        model.close()


def test_the_wal_of_a_duroxide_store_is_not_overwritten(tmp_path: Path) -> None:
    """Committed data of a WAL-mode store lives in its -wal: an export onto it would lose it."""
    pytest.importorskip("duroxide", reason="the real duroxide package writes duroxide stores")
    from tests.replay.duroxide_stores import generate

    db = generate(tmp_path / "dx", ["healthy"])["healthy"]
    wal = Path(f"{db}-wal")
    # Whether duroxide's exit checkpoints its WAL varies; a writer that is still open
    # with checkpoints off makes sure the newest commit is only in the -wal.
    writer = sqlite3.connect(db)
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        with writer:
            writer.execute("CREATE TABLE committed_in_the_wal (x)")
            writer.execute("INSERT INTO committed_in_the_wal VALUES (1)")
        assert wal.stat().st_size > 0
        (tmp_path / "link.json").symlink_to(wal)
        for output in (wal, tmp_path / "link.json", db.parent / ".." / "dx" / f"{db.name}-wal"):
            refused(["export", db, "-o", output], db.parent)
        assert writer.execute("SELECT x FROM committed_in_the_wal").fetchall() == [(1,)]
        model = open_model(db)
        try:
            assert model.instance("healthy").status == "Completed"
        finally:
            model.close()
    finally:
        writer.close()


def test_a_failed_export_leaves_the_previous_file_and_no_temporary(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = store.parent / "out.json"
    out.write_text("the previous export\n")
    fresh = store.parent / "new.json"

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    before = snapshot(store.parent)
    for target in (out, fresh):
        args = ["export", store, "-o", target]
        code, stdout, stderr = run_cli([str(a) for a in args])
        check_clean(args, code, stdout, stderr)
        assert code == 2 and "No space left on device" in stderr
        assert snapshot(store.parent) == before  # no temporary file, no half of new.json
    assert out.read_text() == "the previous export\n"


def test_a_failed_render_leaves_the_previous_file(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = store.parent / "graph.dot"
    out.write_text("digraph previous {}\n")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    before = snapshot(store.parent)
    args = ["render", store, "--instance", "legacy-loop", "-o", out]
    code, stdout, stderr = run_cli([str(a) for a in args])
    check_clean(args, code, stdout, stderr)
    assert code == 2 and snapshot(store.parent) == before


def test_an_export_replaces_an_existing_file_keeping_its_mode(store: Path) -> None:
    out = store.parent / "out.json"
    out.write_text("old")
    out.chmod(0o640)
    code, _, stderr = run_cli(["export", str(store), "-o", str(out)])
    assert code == 0, stderr
    assert load_bundle(out).instances
    assert out.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in store.parent.iterdir()) == ["out.json", "s.db"]


def test_a_new_export_gets_the_umask_mode(store: Path) -> None:
    old = os.umask(0o027)
    try:
        code, _, stderr = run_cli(["export", str(store), "-o", str(store.parent / "new.json")])
    finally:
        os.umask(old)
    assert code == 0, stderr
    assert (store.parent / "new.json").stat().st_mode & 0o777 == 0o640


def test_a_symlinked_output_is_written_through(store: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "real.json").write_text("old")
    link = store.parent / "out.json"
    link.symlink_to(elsewhere / "real.json")
    code, _, stderr = run_cli(["export", str(store), "-o", str(link)])
    assert code == 0, stderr
    assert link.is_symlink() and load_bundle(elsewhere / "real.json").instances
    assert [p.name for p in elsewhere.iterdir()] == ["real.json"]


def test_a_failure_names_the_output_not_the_temporary_file(store: Path, tmp_path: Path) -> None:
    (tmp_path / "a-directory.json").mkdir()
    for out, reason in (
        (tmp_path / "no-such-dir" / "x.json", "No such file or directory"),
        (tmp_path / "a-directory.json", "Is a directory"),
    ):
        args = ["export", store, "-o", out]
        code, stdout, stderr = run_cli([str(a) for a in args])
        check_clean(args, code, stdout, stderr)
        assert code == 2 and reason in stderr and f"'{out}'" in stderr, stderr
        assert ".tmp" not in stderr and "->" not in stderr, stderr


def test_dev_stdout_gets_the_whole_bundle(store: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "durascope", "export", str(store), "-o", "/dev/stdout"],
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"{") and b'"instances"' in proc.stdout
    (store.parent / "piped.json").write_bytes(proc.stdout)
    assert load_bundle(store.parent / "piped.json").instances


def test_a_fifo_stays_a_fifo_and_gets_the_bundle(store: Path) -> None:
    fifo = store.parent / "out.json"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, stderr = run_cli(["export", str(store), "-o", str(fifo)])
    reader.join(timeout=60)
    assert code == 0, stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received and received[0].startswith(b"{") and b'"instances"' in received[0]
    assert sorted(p.name for p in store.parent.iterdir()) == ["out.json", "s.db"]


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
@pytest.mark.parametrize("command", ["export", "render"])
def test_a_null_device_stays_a_device(store: Path, command: str) -> None:
    null = store.parent / "mynull"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    extra = ["--instance", "legacy-loop"] if command == "render" else []
    out = null if command == "export" else store.parent / "graph.dot"
    if command == "render":  # render picks its format from the suffix
        out.symlink_to(null.name)
    code, _, stderr = run_cli([command, str(store), *extra, "-o", str(out)])
    assert code == 0, stderr
    assert stat.S_ISCHR(os.lstat(null).st_mode) and os.lstat(null).st_rdev == os.makedev(1, 3)
    assert sorted(p.name for p in store.parent.iterdir()) == sorted({"s.db", "mynull", out.name})


def test_a_hard_linked_output_keeps_its_link(store: Path) -> None:
    out = store.parent / "out.json"
    out.write_text("the previous export, a much longer text than nothing\n" * 10_000)
    os.link(out, store.parent / "other-name.json")
    code, _, stderr = run_cli(["export", str(store), "-o", str(out)])
    assert code == 0, stderr
    assert os.path.samefile(out, store.parent / "other-name.json") and out.stat().st_nlink == 2
    assert load_bundle(store.parent / "other-name.json").instances  # no tail of the old text
    assert sorted(p.name for p in store.parent.iterdir()) == ["other-name.json", "out.json", "s.db"]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another owner needs root")
def test_a_replaced_output_keeps_its_owner(store: Path) -> None:
    out = store.parent / "out.json"
    out.write_text("old")
    os.chown(out, 4321, 4322)
    code, _, stderr = run_cli(["export", str(store), "-o", str(out)])
    assert code == 0, stderr
    assert (out.stat().st_uid, out.stat().st_gid) == (4321, 4322)
    assert load_bundle(out).instances


def test_an_output_whose_owner_cannot_be_kept_is_written_in_place(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = store.parent / "out.json"
    out.write_text("old")
    theirs = out.stat()

    def foreign(fd: int) -> os.stat_result:  # the output belongs to someone else
        mine = list(os.stat(fd))
        mine[stat.ST_UID] = theirs.st_uid + 1
        return os.stat_result(mine)

    def refuse(fd: int, uid: int, gid: int) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "fstat", foreign)
    monkeypatch.setattr(os, "fchown", refuse)
    code, _, stderr = run_cli(["export", str(store), "-o", str(out)])
    assert code == 0, stderr
    assert out.stat().st_ino == theirs.st_ino  # the same file, so its owner is unchanged
    assert load_bundle(out).instances
    assert sorted(p.name for p in store.parent.iterdir()) == ["out.json", "s.db"]
