"""What a search does about the disk it writes to: refuse one that is unusable before anything
starts, stop with one clear line when it fails mid-search, and mend what a failed write left
behind before `--resume`.

Three writers share results/<name>/: kdsearch's own parquet files (atomic, see
kdsearch.results.store), Optuna's journal (appended line by line) and Tune's experiment folder
(rewritten in place). Only the last two can be left half-written by a full disk or a kill, and
each needs its own repair.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from kdsearch.errors import UserError

# Below this much free space a search cannot even keep its checkpoints: refuse before Ray starts.
MIN_FREE_BYTES = 64 * 2**20
# OSErrors that mean the disk is full, read-only or failing, not a bug in kdsearch.
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EIO)


def check_disk(folder: Path) -> None:
    """Refuses a results folder that cannot be written, or whose disk is (nearly) full, without
    creating anything: the probe is an anonymous temporary file in the nearest existing folder.

    Raises:
        UserError: the folder's disk is full, read-only, or a path part is not a folder.
    """
    try:
        base = _nearest_existing(folder)
        free = shutil.disk_usage(base).free
        if free < MIN_FREE_BYTES:
            raise UserError(f"only {free / 2**20:.1f} MiB free on its disk; a search needs at least "
                            f"{MIN_FREE_BYTES // 2**20} MiB for checkpoints and results", file=str(folder))
        if not base.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(base))
        with tempfile.TemporaryFile(dir=base) as probe:
            probe.write(b"ok")
    except OSError as exc:
        raise UserError(f"results directory is not writable: {exc.strerror}", file=str(folder)) from None


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk_problem(exc: BaseException, folder: Path) -> str | None:
    """Why the disk under `folder` failed, if `exc` comes from that, else None.

    The OSError may be wrapped by Tune, or be only the cause of what surfaced (Tune reading back
    a file the full disk truncated raises EOFError), so a 1 MiB write to the folder is tried too.
    """
    cause: BaseException | None = exc
    for _ in range(8):
        if cause is None:
            break
        if isinstance(cause, OSError) and cause.errno in DISK_ERRNOS:
            return f"{cause.strerror}: {cause.filename}" if cause.filename else str(cause.strerror)
        cause = cause.__cause__ or cause.__context__
    try:
        with tempfile.TemporaryFile(dir=folder) as probe:
            probe.write(bytes(2**20))
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as err:
        return err.strerror
    return None


def recover_for_resume(folder: Path, *, tune_local: bool = True) -> list[str]:
    """Mends the journal and Tune's state files of `folder` before a resume; returns notes for
    the user about what was mended (empty when all was whole)."""
    from kdsearch.search.tuner import JOURNAL

    notes = []
    if repair_journal(folder / JOURNAL):
        notes.append(f"{folder / JOURNAL}: dropped a half-written last record (a write was cut short)")
    if tune_local:
        note = restore_tune_state(folder)
        if note:
            notes.append(note)
    return notes


def repair_journal(path: Path) -> bool:
    """Drops a half-written last record from the Optuna journal; True if there was one.

    An append cut short leaves a line without its newline. Optuna skips it while it is last, but
    the next append would glue onto it and make the whole journal unreadable.
    """
    if not path.is_file():
        return False
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return False
    os.truncate(path, data.rfind(b"\n") + 1)
    return True


def restore_tune_state(folder: Path) -> str | None:
    """Puts back the last whole copy of Tune's experiment state if the newest one is damaged.

    Tune rewrites experiment_state-*.json in place; a full disk leaves it truncated, and Tune,
    failing to read it, silently starts the search over. ResultsWriter keeps a copy of the last
    state that was whole (`TUNE_STATE_BACKUP`); this restores it, or refuses to resume.

    Returns:
        A note for the user when the copy was restored, else None.

    Raises:
        UserError: the state is damaged and no whole copy exists.
    """
    from kdsearch.atomic import atomic_write_bytes
    from kdsearch.results.store import TUNE_STATE_BACKUP, tune_state_files, tune_state_whole
    from kdsearch.search.tuner import TUNE_DIR

    tune_dir = folder / TUNE_DIR
    current = tune_state_files(tune_dir)
    if not current or tune_state_whole(current):
        return None
    saved = tune_state_files(folder / TUNE_STATE_BACKUP)
    if not saved or not tune_state_whole(saved):
        newest = next(name for name in current if name.startswith("experiment_state-"))
        raise UserError("damaged (a write was cut short, e.g. by a full disk) and no whole copy was kept: the search "
                        "cannot be resumed; its finished trials stay in trials.parquet", file=str(tune_dir / newest))
    for name in current:  # out of Tune's sight: it reads the newest experiment_state-*.json
        os.replace(tune_dir / name, tune_dir / f"{name}.damaged")
    for name, data in saved.items():
        atomic_write_bytes(tune_dir / name, data, per_process=False)
    return (f"{tune_dir}: Tune's experiment state was damaged (a write was cut short); resuming from the last whole "
            "copy: trials that ended after it run again from their checkpoints")
