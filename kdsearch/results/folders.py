"""Finding and claiming results/<name>/ folders: a bare search name is enough, `--resume` finds
the latest search of a space, and one folder has one driver at a time.

The claim is an advisory lock (flock) on results/<name>/.driver.lock held for the whole run: the
kernel drops it when the driver exits, however it exits, so a killed search never leaves a stale
claim behind, while a second `kdsearch run --name NAME` next to a running one is refused.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

import yaml

from kdsearch.errors import UserError

LOCK_FILE = ".driver.lock"
DEFAULT_ROOT = "results"


def results_folder(arg: str | os.PathLike, root: str | os.PathLike = DEFAULT_ROOT) -> Path:
    """A results folder as given, or results/<arg> for a bare search name."""
    path = Path(arg)
    if path.is_dir() or len(path.parts) != 1:
        return path  # a path: read_results says what is wrong with it
    under_root = Path(root) / path
    if under_root.is_dir():
        return under_root
    known = sorted(p.name for p in Path(root).glob("*/meta.json") for p in [p.parent]) if Path(root).is_dir() else []
    hint = f"searches in {root}/: {', '.join(known)}" if known else f"no searches in {Path(root).resolve()}/"
    raise UserError(f"no such results directory (nor {under_root}); {hint}", file=str(arg))


def latest_search_of(root: str | os.PathLike, space_name: str) -> str:
    """The name of the most recently written search of `space_name` under `root` (for `--resume`
    without `--name`)."""
    mine = []
    for record in Path(root).glob("*/space.yaml"):
        try:
            name = (yaml.safe_load(record.read_text()) or {}).get("name")
        except (OSError, yaml.YAMLError):
            continue
        if name == space_name:
            mine.append((record.parent.stat().st_mtime, record.parent.name))
    if not mine:
        others = sorted(p.parent.name for p in Path(root).glob("*/space.yaml"))
        raise UserError(f"no search of space '{space_name}' to resume in {root}/"
                        + (f"; searches there: {', '.join(others)} (pass --name NAME)" if others else ""),
                        field="--resume")
    return max(mine)[1]


def running_driver(folder: Path) -> str | None:
    """'pid N on HOST' when another driver holds the folder's claim now, else None."""
    lock = folder / LOCK_FILE
    if not lock.is_file():
        return None
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            return handle.read().strip() or "another process"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


class FolderClaim:
    """Holds results/<name>/'s claim until `release()` (or the process ends)."""

    def __init__(self, folder: Path):
        self.handle = open(folder / LOCK_FILE, "a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "another process"
            self.handle.close()
            raise UserError(f"a search is still running in this folder ({holder}): two drivers cannot share it; "
                            "wait for it, stop it, or choose another --name", file=str(folder), field="--name") from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"pid {os.getpid()} on {socket.gethostname()}")
        self.handle.flush()

    def release(self) -> None:
        if not self.handle.closed:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
