"""The Tune callback that keeps `results/<name>/` current while a search runs.

The files and their atomic writes are `kdsearch.results.store`'s; this callback decides when to
write (throttled while trials run, never skipped when a trial ends) and backs up Tune's own
experiment state whenever it is whole.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Iterable

from kdsearch.results.store import (
    _TUNE_STATE, EPOCHS_FILE, META_FILE, TRIALS_FILE, TUNE_STATE_BACKUP, tune_state_files, tune_state_whole,
    write_parquet_atomic,
)
from kdsearch.atomic import atomic_write_bytes
from kdsearch.search.callbacks import RecordingCallback

logger = logging.getLogger(__name__)


class ResultsWriter(RecordingCallback):
    """Writes trials.parquet / epochs.parquet / meta.json for a search, as it runs.

    Args:
        out_dir: the search's results directory (`results/<name>`); created if missing.
        searched: dotted names of the searched parameters (one column each).
        metric: the search metric, e.g. "val_acc7".
        mode: "max" or "min".
        max_epochs: ASHA's max_t; trials ending before it are recorded as "stopped".
        flush_every_s: at most one write per this many seconds while trials run.
        resume: take back the rows already in `out_dir` (for a resumed search) instead of
            starting empty; without it, existing files are overwritten at setup.
        meta_extra: more JSON-able facts for meta.json (e.g. `rungs`, the space file).
        tune_dir: Tune's experiment folder, when local: after each write its state files are
            copied to `TUNE_STATE_BACKUP` whenever they changed and are whole.
    """

    def __init__(self, out_dir: str | os.PathLike, *, searched: Iterable[str], metric: str,
                 mode: str, max_epochs: int, flush_every_s: float = 2.0, resume: bool = False,
                 meta_extra: dict[str, Any] | None = None, tune_dir: str | os.PathLike | None = None,
                 epoch_rule: str = "best"):
        super().__init__(searched=searched, metric=metric, mode=mode, max_epochs=max_epochs, epoch_rule=epoch_rule)
        self.out_dir = Path(out_dir).absolute()
        self.flush_every_s = float(flush_every_s)
        self.resume = resume
        self.meta_extra = dict(meta_extra or {})
        self._written_events = -1
        self._last_flush = 0.0
        self.tune_dir = None if tune_dir is None else Path(tune_dir).absolute()
        self._backup_stamp = None

    # ------------------------------------------------------------ callback
    def setup(self, stop=None, num_samples=None, total_num_samples=None, **info):
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._take_back_rows(self.out_dir if self.resume else None, strict=True)
        records = self.records
        meta = {"metric": records.metric, "mode": records.mode, "searched": records.searched,
                "max_epochs": records.max_epochs, "objective_epoch": records.epoch_rule,
                "num_samples": total_num_samples or num_samples,
                "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                **self.meta_extra}
        atomic_write_bytes(self.out_dir / META_FILE, json.dumps(meta, indent=2, default=str).encode(),
                           per_process=False)
        # Empty tables right away, so `kdsearch leaderboard` works on a search that just began.
        self.flush()

    def _changed(self, *, final: bool) -> None:
        if self.events == self._written_events:
            return
        if final or time.monotonic() - self._last_flush >= self.flush_every_s:
            self.flush()

    def on_experiment_end(self, trials: list, **info):
        self.flush()

    # --------------------------------------------------------------- writes
    def flush(self) -> None:
        """Writes both parquet files now (atomically). A failed write is logged and retried at
        the next event: losing the disk for a moment must not kill a long search."""
        self._last_flush = time.monotonic()
        events = self.events
        try:
            # Epochs first: the trials table is the commit record. A kill between the two writes
            # leaves epoch rows the trials table does not know yet, which `covered_epochs` drops
            # on resume; the other order would lose epoch rows of trials already recorded.
            write_parquet_atomic(self.records.epochs_frame(), self.out_dir / EPOCHS_FILE)
            write_parquet_atomic(self.records.trials_frame(), self.out_dir / TRIALS_FILE)
        except OSError as exc:
            logger.warning("could not write results to %s: %s", self.out_dir, exc)
            return
        self._written_events = events
        self._back_up_tune_state()

    def _back_up_tune_state(self) -> None:
        tune_dir = getattr(self, "tune_dir", None)  # a writer pickled by an older kdsearch has none
        if tune_dir is None or not tune_dir.is_dir():
            return
        try:
            stamps = [p.stat().st_mtime_ns for pattern in _TUNE_STATE for p in tune_dir.glob(pattern.format("*"))]
            if not stamps or max(stamps) == self._backup_stamp:
                return
            files = tune_state_files(tune_dir)
            if not tune_state_whole(files):
                return  # Tune is writing them right now: next time
            backup = self.out_dir / TUNE_STATE_BACKUP
            backup.mkdir(exist_ok=True)
            for old in backup.iterdir():
                if old.name not in files:
                    old.unlink()
            for name, data in files.items():
                atomic_write_bytes(backup / name, data, per_process=False)
            self._backup_stamp = max(stamps)
        except OSError as exc:
            logger.warning("could not copy Tune's experiment state to %s: %s", self.out_dir, exc)
