"""Plain-dict rows of a search: one row per trial, one per trial and epoch.

Both callbacks (the parquet writer and the live leaderboard) feed a `TrialRecords` from Tune's
events. Rows are plain dicts, never Tune `Trial` objects, so the driver's memory stays flat over
hundreds of trials (Tune's own logger callbacks pin every Trial; docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import time
from typing import Any, Iterable, Mapping

import pandas as pd

from kdsearch.results.objective import chooses, is_objective_key

STATUSES = ("running", "stopped", "done", "error")

# Bookkeeping keys Tune adds to every result; they say nothing about the model.
_TUNE_NOISE = frozenset(
    {
        "timestamp", "pid", "done", "time_since_restore", "iterations_since_restore",
        "timesteps_since_restore", "timesteps_total", "episodes_total", "trial_id",
        "experiment_tag", "date", "hostname", "node_ip", "config", "checkpoint_dir_name",
        "should_checkpoint",
    }
)
# Per-trial facts copied from the latest result onto the trial row.
_TRIAL_FACTS = ("student_params", "latency_ms", "labelled", "seed", "node_id", "device", "gpus", "early_stopped",
                "teacher_cache")


def is_number(value: Any) -> bool:
    """True for real numbers (numpy scalars included), False for bools and everything else."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flattens nested config dicts into dotted keys (`{"loss": {"alpha": 1}}` -> `loss.alpha`)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_config(value, prefix=name + "."))
        else:
            flat[name] = value
    return flat


def is_better(value: float, best: float | None, mode: str) -> bool:
    """Strictly better under `mode`; NaN is never better, anything beats no value yet."""
    if value is None or math.isnan(value):
        return False
    if best is None or math.isnan(best):
        return True
    return value > best if mode == "max" else value < best


class TrialRecords:
    """Tracks trial rows and epoch rows from Tune events.

    Args:
        searched: dotted names of the searched parameters (become columns as they are).
        metric: the search metric, e.g. "val_acc7".
        mode: "max" or "min".
        max_epochs: ASHA's max_t; a trial that ends earlier was stopped.
        epoch_rule: `search.objective_epoch`: the `best_*` columns hold the best epoch's metrics
            ("best") or the last epoch's ("last"): the epoch Optuna and ASHA were given.
    """

    def __init__(self, *, searched: Iterable[str], metric: str, mode: str, max_epochs: int,
                 epoch_rule: str = "best"):
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.searched = list(searched)
        self.metric = metric
        self.mode = mode
        self.max_epochs = int(max_epochs)
        self.epoch_rule = epoch_rule
        self.trials: dict[str, dict[str, Any]] = {}
        self.epochs: list[dict[str, Any]] = []
        self._t0: dict[str, float] = {}  # wall-clock start per trial, kept out of the rows

    # ----------------------------------------------------------------- events
    def start(self, trial_id: str, config: Mapping[str, Any], now: float | None = None) -> None:
        """Registers a trial (or marks a restarted one running again, keeping its history)."""
        now = time.time() if now is None else now
        row = self.trials.get(trial_id)
        if row is None:
            row = {"trial_id": trial_id}
            for key, value in flatten_config(config).items():
                column = key if key in self.searched else f"config/{key}"
                row[column] = _scalar(value)
            row.update(status="running", error=None, epochs=0, best_epoch=None,
                       elapsed_s=0.0, started_at=dt.datetime.fromtimestamp(now, dt.timezone.utc))
            self.trials[trial_id] = row
            self._t0[trial_id] = now
        else:
            row.update(status="running", error=None)
            self._t0.setdefault(trial_id, now - float(row.get("elapsed_s") or 0.0))

    def result(self, trial_id: str, result: Mapping[str, Any], now: float | None = None) -> None:
        """Records one epoch report: an epoch row, and the trial's last/best metrics."""
        if trial_id not in self.trials:
            self.start(trial_id, result.get("config") or {}, now)
        row = self.trials[trial_id]
        epoch = int(result.get("epoch", result.get("training_iteration", row["epochs"] + 1)))
        if epoch <= row["epochs"]:
            # A trial restarted without a checkpoint replays its epochs: keep the newer ones.
            self._forget_epochs_from(trial_id, epoch)
        self._fill_gaps(trial_id, result.get("earlier_epochs"), before=epoch)
        # The `objective/...` columns repeat the chosen epoch's values for Tune; not new facts.
        values = {k: v for k, v in result.items()
                  if k not in _TUNE_NOISE and is_number(v) and not is_objective_key(k)}
        # Where each epoch ran: a trial retried after a node loss moves to another node.
        where = {"node_id": result["node_id"]} if isinstance(result.get("node_id"), str) else {}
        self.epochs.append({"trial_id": trial_id, **values, **where, "epoch": epoch})
        row["epochs"] = epoch
        row["status"] = "running"
        for key in _TRIAL_FACTS:
            if key in result:
                row[key] = _scalar(result[key])
        self._update_metrics(row, values, epoch)
        self.touch(trial_id, now)
        if is_number(result.get("time_total_s")):
            # Results can reach the driver in bursts; the trial's own clock is then the truer one.
            row["elapsed_s"] = max(row["elapsed_s"], round(float(result["time_total_s"]), 3))
        _count_gpu_seconds(row)

    def _fill_gaps(self, trial_id: str, earlier: Any, *, before: int) -> None:
        """Adds the epoch rows a restored trial's checkpoint remembers and these rows lack (the
        driver died after Tune saved the checkpoint, before the results were written)."""
        if not isinstance(earlier, (list, tuple)):
            return
        have = {e["epoch"] for e in self.epochs if e["trial_id"] == trial_id}
        row = self.trials[trial_id]
        for old in earlier:
            if not isinstance(old, Mapping) or not is_number(old.get("epoch")):
                continue
            epoch = int(old["epoch"])
            if epoch in have or epoch >= before:
                continue
            values = {k: v for k, v in old.items() if k not in _TUNE_NOISE and is_number(v)}
            self.epochs.append({"trial_id": trial_id, **values, "epoch": epoch})
            self._update_metrics(row, values, epoch)
            have.add(epoch)

    def finish(self, trial_id: str, *, error: str | None = None, now: float | None = None) -> None:
        """Marks a trial ended: "error" with a reason, else "stopped" (ASHA ended it before
        max_epochs) or "done"."""
        if trial_id not in self.trials:
            self.start(trial_id, {}, now)
        row = self.trials[trial_id]
        if error is not None:
            row.update(status="error", error=error)
        else:
            # A trial that ended itself (its recipe's early stop) is done, not stopped by ASHA.
            ended_itself = bool(row.get("early_stopped"))
            row["status"] = "stopped" if row["epochs"] < self.max_epochs and not ended_itself else "done"
        self.touch(trial_id, now)

    def touch(self, trial_id: str, now: float | None = None) -> None:
        """Refreshes a trial's elapsed time (called on its events, and by the live view)."""
        now = time.time() if now is None else now
        row = self.trials[trial_id]
        wall = round(now - self._t0[trial_id], 3)
        row["elapsed_s"] = max(float(row.get("elapsed_s") or 0.0), wall)
        _count_gpu_seconds(row)

    def touch_running(self, now: float | None = None) -> None:
        """Refreshes the elapsed time of every running trial."""
        for trial_id, row in self.trials.items():
            if row["status"] == "running":
                self.touch(trial_id, now)

    # ------------------------------------------------------------- metrics
    def _update_metrics(self, row: dict[str, Any], values: Mapping[str, Any], epoch: int) -> None:
        val = {k: float(v) for k, v in values.items() if k.startswith("val_")}
        for key, value in val.items():
            row[f"last_{key}"] = value
        if self.metric not in values:
            return
        best_key = f"best_{self.metric}"
        # getattr: records pickled (in Tune's state) before the rule existed chose the best epoch.
        if chooses(getattr(self, "epoch_rule", "best"), float(values[self.metric]), row.get(best_key), self.mode):
            # The best_* columns are the metrics of ONE epoch (the chosen one), not per-column maxima.
            for key in [k for k in row if k.startswith("best_val_")]:
                row[key] = None
            for key, value in val.items():
                row[f"best_{key}"] = value
            row[best_key] = float(values[self.metric])
            row["best_epoch"] = epoch

    def forget_unknown(self, known: set[str]) -> list[str]:
        """Drop every trial (and its epochs) whose id is not in `known`; returns the dropped ids."""
        dropped = [t for t in self.trials if t not in known]
        for trial_id in dropped:
            del self.trials[trial_id]
        if dropped:
            self.epochs = [e for e in self.epochs if e["trial_id"] in known]
        return dropped

    def _forget_epochs_from(self, trial_id: str, epoch: int) -> None:
        self.epochs = [e for e in self.epochs if e["trial_id"] != trial_id or e["epoch"] < epoch]
        row = self.trials[trial_id]
        for key in [k for k in row if k.startswith(("best_val_", "last_val_"))]:
            del row[key]
        row[f"best_{self.metric}"] = None
        row["best_epoch"] = None
        for old in (e for e in self.epochs if e["trial_id"] == trial_id):
            self._update_metrics(row, old, old["epoch"])

    # ---------------------------------------------------------------- frames
    def trials_frame(self) -> pd.DataFrame:
        """All trial rows as a DataFrame with a stable, readable column order."""
        frame = pd.DataFrame(list(self.trials.values()))
        if frame.empty:
            frame = pd.DataFrame(columns=["trial_id", *self.searched, "status", "error", "epochs"])
        return frame[_ordered_columns(frame.columns, self.searched, self.metric)]

    def epochs_frame(self) -> pd.DataFrame:
        """All epoch rows, with trial_id and epoch first."""
        frame = pd.DataFrame(self.epochs)
        if frame.empty:
            return pd.DataFrame(columns=["trial_id", "epoch"])
        rest = [c for c in frame.columns if c not in ("trial_id", "epoch")]
        return frame[["trial_id", "epoch", *rest]]

    def load(self, trials: pd.DataFrame, epochs: pd.DataFrame) -> None:
        """Takes back rows written by an earlier run of the same search (for `--resume`)."""
        for row in trials.to_dict("records"):
            row = {k: (None if _is_missing(v) else v) for k, v in row.items()}
            self.trials[row["trial_id"]] = row
            started = row.get("started_at")
            if isinstance(started, (pd.Timestamp, dt.datetime)):
                self._t0[row["trial_id"]] = started.timestamp()
            else:
                self._t0[row["trial_id"]] = time.time() - float(row.get("elapsed_s") or 0.0)
        self.epochs = [
            {k: v for k, v in row.items() if not _is_missing(v)}
            for row in epochs.to_dict("records")
        ]


def _ordered_columns(columns: Iterable[str], searched: list[str], metric: str) -> list[str]:
    columns = list(columns)
    head = ["trial_id", *[c for c in searched if c in columns]]
    head += sorted(c for c in columns if c.startswith("config/"))
    head += [c for c in ("status", "error", "epochs", "best_epoch") if c in columns]
    head += [c for c in (f"best_{metric}",) if c in columns]
    head += sorted(c for c in columns if c.startswith("best_val_") and c not in head)
    head += sorted(c for c in columns if c.startswith("last_val_"))
    tail = [c for c in (*_TRIAL_FACTS, "elapsed_s", "gpu_s", "started_at") if c in columns]
    middle = [c for c in columns if c not in head and c not in tail]
    return head + middle + tail


def _count_gpu_seconds(row: dict) -> None:
    """GPU-seconds a trial held: its GPU share times its elapsed time (0 on CPU). What a search
    costs on a cluster is this column's sum, not the trials' wall time."""
    if is_number(row.get("gpus")):
        row["gpu_s"] = round(float(row["gpus"]) * float(row.get("elapsed_s") or 0.0), 3)


def _scalar(value: Any) -> Any:
    """Keeps numbers, strings, bools and None; anything else (lists, objects) becomes its repr,
    because parquet needs one type per column and a config may carry arbitrary constants."""
    if value is None or isinstance(value, (str, bool)) or is_number(value):
        return value.item() if hasattr(value, "item") else value
    return repr(value)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT
