"""The results store: `results/<name>/{meta.json, trials.parquet, epochs.parquet}`.

`ResultsWriter` is a Tune callback on the driver. Every write goes to `x.tmp` first and is then
renamed over `x` (`os.replace` is atomic), so killing the search at any moment leaves either the
previous complete file or the new one, never half of one. Writes are throttled (the table is
rewritten whole, which is cheap at hundreds of trials) but never skipped when a trial ends.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kdsearch.errors import UserError
from kdsearch.results.events import RecordingCallback

logger = logging.getLogger(__name__)

META_FILE = "meta.json"
TRIALS_FILE = "trials.parquet"
EPOCHS_FILE = "epochs.parquet"
_META_FIELDS = ("metric", "mode", "searched", "max_epochs")


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
    """

    def __init__(self, out_dir: str | os.PathLike, *, searched: Iterable[str], metric: str,
                 mode: str, max_epochs: int, flush_every_s: float = 2.0, resume: bool = False,
                 meta_extra: dict[str, Any] | None = None):
        super().__init__(searched=searched, metric=metric, mode=mode, max_epochs=max_epochs)
        self.out_dir = Path(out_dir).absolute()
        self.flush_every_s = float(flush_every_s)
        self.resume = resume
        self.meta_extra = dict(meta_extra or {})
        self._written_events = -1
        self._last_flush = 0.0

    # ------------------------------------------------------------ callback
    def setup(self, stop=None, num_samples=None, total_num_samples=None, **info):
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.resume and (self.out_dir / TRIALS_FILE).exists():
            _, trials, epochs = read_results(self.out_dir)
            self.records.load(trials, epochs)
        records = self.records
        meta = {"metric": records.metric, "mode": records.mode, "searched": records.searched,
                "max_epochs": records.max_epochs,
                "num_samples": total_num_samples or num_samples,
                "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                **self.meta_extra}
        _write_atomic(self.out_dir / META_FILE,
                      lambda f: f.write(json.dumps(meta, indent=2, default=str).encode()))
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
            write_parquet_atomic(self.records.trials_frame(), self.out_dir / TRIALS_FILE)
            write_parquet_atomic(self.records.epochs_frame(), self.out_dir / EPOCHS_FILE)
        except OSError as exc:
            logger.warning("could not write results to %s: %s", self.out_dir, exc)
            return
        self._written_events = events


def write_parquet_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Writes `frame` to `path` through `path.tmp` + `os.replace` (never a half-written file)."""
    table = pa.Table.from_pandas(_parquet_safe(frame), preserve_index=False)
    _write_atomic(Path(path), lambda f: pq.write_table(table, f))


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())  # the rename must not land before the bytes do
    os.replace(tmp, path)


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Gives every object column one type: parquet refuses e.g. a column mixing 1.5 and "a"
    (a categorical choice of mixed types, or a constant that differs between trials)."""
    frame = frame.copy()
    for column in frame.columns[frame.dtypes == object]:
        kinds = {type(v) for v in frame[column] if v is not None and not _nan(v)}
        if len(kinds) > 1 and not kinds <= {int, float}:
            frame[column] = [None if v is None or _nan(v) else str(v) for v in frame[column]]
    return frame


def _nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def read_results(results_dir: str | os.PathLike) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Reads a search's results directory.

    Args:
        results_dir: `results/<name>` as written by `ResultsWriter`.

    Returns:
        (meta, trials, epochs): meta.json as a dict, and the two parquet tables as DataFrames.

    Raises:
        UserError: the directory or a file is missing or unreadable (the message names it).
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise UserError("no such results directory", file=str(root))
    meta_path = root / META_FILE
    if not meta_path.is_file():
        raise UserError("missing (not a kdsearch results directory?)", file=str(meta_path))
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"not readable JSON ({exc})", file=str(meta_path)) from exc
    if not isinstance(meta, dict):
        raise UserError("must hold a JSON object", file=str(meta_path))
    for field in _META_FIELDS:
        if field not in meta:
            raise UserError("missing", file=str(meta_path), field=field)
    return meta, _read_parquet(root / TRIALS_FILE), _read_parquet(root / EPOCHS_FILE)


def _read_parquet(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise UserError("missing", file=str(path))
    try:
        return pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise UserError(f"not a readable parquet file ({exc})", file=str(path)) from exc
