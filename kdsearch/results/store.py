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
# The last whole copy of Tune's experiment state (Tune rewrites its own in place, so a full disk
# can truncate it; kdsearch.search.recovery puts this copy back before a resume).
TUNE_STATE_BACKUP = ".tune-state"
_TUNE_STATE = ("experiment_state-{}.json", "search_gen_state-{}.json", "searcher-state-{}.pkl")
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
        tune_dir: Tune's experiment folder, when local: after each write its state files are
            copied to `TUNE_STATE_BACKUP` whenever they changed and are whole.
    """

    def __init__(self, out_dir: str | os.PathLike, *, searched: Iterable[str], metric: str,
                 mode: str, max_epochs: int, flush_every_s: float = 2.0, resume: bool = False,
                 meta_extra: dict[str, Any] | None = None, tune_dir: str | os.PathLike | None = None):
        super().__init__(searched=searched, metric=metric, mode=mode, max_epochs=max_epochs)
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
                write_bytes_atomic(backup / name, data)
            self._backup_stamp = max(stamps)
        except OSError as exc:
            logger.warning("could not copy Tune's experiment state to %s: %s", self.out_dir, exc)


def write_parquet_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Writes `frame` to `path` through `path.tmp` + `os.replace` (never a half-written file)."""
    table = pa.Table.from_pandas(_parquet_safe(frame), preserve_index=False)
    _write_atomic(Path(path), lambda f: pq.write_table(table, f))


def tune_state_files(tune_dir: Path) -> dict[str, bytes]:
    """The newest run's state files in a Tune experiment folder, name -> content (may be {})."""
    states = sorted(Path(tune_dir).glob(_TUNE_STATE[0].format("*")))
    if not states:
        return {}
    session = states[-1].name[len("experiment_state-"):-len(".json")]
    found = {}
    for name in (pattern.format(session) for pattern in _TUNE_STATE):
        if (Path(tune_dir) / name).is_file():
            found[name] = (Path(tune_dir) / name).read_bytes()
    return found


def tune_state_whole(files: dict[str, bytes]) -> bool:
    """Whether Tune's state files are complete: each is JSON that parses, or a pickle (Tune
    pickles some into files named .json) that ends in its STOP opcode."""
    if not any(name.startswith("experiment_state-") for name in files):
        return False
    return all(_whole_pickle(data) or _whole_json(data) for data in files.values())


def _whole_pickle(data: bytes) -> bool:
    return data[:1] == b"\x80" and data.endswith(b".")


def _whole_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def write_bytes_atomic(path: Path, data: bytes) -> None:
    _write_atomic(Path(path), lambda f: f.write(data))


def covered_epochs(trials: pd.DataFrame, epochs: pd.DataFrame) -> pd.DataFrame:
    """The epoch rows the trials table accounts for (its trials, up to each one's `epochs`).

    Together with trials.parquet they are one consistent version of the results, whatever
    moment a kill interrupted `ResultsWriter.flush()` at.
    """
    if epochs.empty or "epochs" not in trials.columns:
        return epochs
    last = epochs["trial_id"].map(trials.set_index("trial_id")["epochs"])
    return epochs[last.notna() & (epochs["epoch"] <= last)].reset_index(drop=True)


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # the rename must not land before the bytes do
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)  # a full disk gets its space back; `path` is untouched
        except OSError:
            pass  # the original error says more than this one
        raise


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
