"""Atomic file writes: a reader, or a search killed at any moment, sees the old file or the new
one, never half of one.

Every writer of kdsearch goes through here: write to a temporary file in the same folder (a
rename is atomic only within one file system), fsync it (the rename must not reach the disk
before the bytes do), rename it over the final path, and remove the temporary file when
anything fails (a full disk gets its space back; the final path is untouched).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator


def temporary_path(path: str | os.PathLike, *, per_process: bool = True) -> Path:
    """The temporary file beside `path`: `<name>.tmp-<pid>`, or `<name>.tmp` for a file that only
    one process writes (a later write then replaces what a killed one left behind)."""
    path = Path(path)
    return path.with_name(f"{path.name}.tmp-{os.getpid()}" if per_process else f"{path.name}.tmp")


def commit(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """fsync the finished temporary file, then rename it over `path` (removed if that fails)."""
    try:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        discard(tmp)
        raise


def discard(tmp: str | os.PathLike) -> None:
    """Remove a temporary file if it is there; an error here would hide the one that matters."""
    try:
        Path(tmp).unlink(missing_ok=True)
    except OSError:
        pass


@contextmanager
def atomic_path(path: str | os.PathLike, *, per_process: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write `path`'s new content to (by any library); committed on a
    clean exit, removed on an exception. Parent folders are created."""
    path = Path(path)
    made = _make_parents(path.parent)
    tmp = temporary_path(path, per_process=per_process)
    try:
        try:
            yield tmp
        except BaseException:
            discard(tmp)
            raise
        commit(tmp, path)
    except BaseException:
        for folder in made:  # a failed write leaves no empty folders behind either
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _make_parents(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; return those created, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir(exist_ok=True)
    return missing


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object], *, per_process: bool = True) -> None:
    """Write `path` atomically through `write(binary_file)`."""
    with atomic_path(path, per_process=per_process) as tmp, open(tmp, "wb") as f:
        write(f)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, per_process: bool = True) -> None:
    atomic_write(path, lambda f: f.write(data), per_process=per_process)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
