"""A Tune callback base that turns driver-side trial events into `TrialRecords` rows.

Subclasses (the parquet writer, the live leaderboard) only decide what to do when the rows
change: `_changed(final=...)`, where `final` marks events that must not be throttled away
(a trial ending, the experiment ending).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Iterable

from ray import cloudpickle
from ray import tune

from kdsearch.results.records import TrialRecords

logger = logging.getLogger(__name__)


def error_reason(trial: Any) -> str:
    """First line of the exception that ended `trial`, e.g. "loss became NaN at epoch 3".

    Tune does not hand the exception to callbacks; it pickles it next to the trial (locally on
    the driver) and also writes a text trace. The pickle gives the user's own exception (the
    `cause` of Ray's `RayTaskError`); the text trace is the fallback.
    """
    exc = _load_pickled_error(trial)
    if exc is not None:
        cause = getattr(exc, "cause", None)
        cause = cause if isinstance(cause, BaseException) else exc
        lines = str(cause).strip().splitlines()
        # Ray's wrapper errors put a "ray::ImplicitFunc..." banner and a traceback first.
        if cause is exc and len(lines) > 1:
            return _last_exception_line(lines) or lines[0]
        return lines[0] if lines else type(cause).__name__
    text = _read_error_text(trial)
    # Tune appends each failure to the text file under a "Failure # N (occurred at ...)" header;
    # the last one is the failure that ended the trial.
    lines = (text or "").strip().splitlines()
    headers = [i for i, ln in enumerate(lines) if ln.startswith("Failure # ")]
    lines = [ln for ln in lines[headers[-1] + 1 if headers else 0:] if ln.strip()]
    if not lines:
        return "trial failed"
    return (_last_exception_line(lines) if len(lines) > 1 else None) or lines[0].strip()


def _read_error_text(trial: Any) -> str | None:
    """The text trace: the driver's local copy first, else the one in (possibly remote) storage."""
    try:
        path = trial.error_file
        if path and os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read()
        return trial.get_error()
    except Exception:  # noqa: BLE001 - storage may be gone; a reason is nice-to-have
        return None


def _load_pickled_error(trial: Any) -> BaseException | None:
    try:
        path = trial.pickled_error_file
        if path and os.path.exists(path):
            with open(path, "rb") as f:
                exc = cloudpickle.load(f)
            return exc if isinstance(exc, BaseException) else None
    except Exception:  # noqa: BLE001 - an unreadable pickle must not break the search
        return None
    return None


def _last_exception_line(lines: list[str]) -> str | None:
    """From a traceback, the message of the last `SomeError: message` line."""
    for line in reversed(lines):
        head, sep, message = line.strip().partition(": ")
        if sep and head.replace(".", "").replace("_", "").isalnum() and head[:1].isupper():
            return message.strip() or head
    return None


class RecordingCallback(tune.Callback):
    """Keeps `self.records` up to date from Tune's trial events (driver side).

    Args:
        searched: dotted names of the searched parameters.
        metric: the search metric (e.g. "val_acc7").
        mode: "max" or "min".
        max_epochs: ASHA's max_t (trials ending before it count as stopped).
        epoch_rule: `search.objective_epoch` ("best" or "last"): which epoch's metrics rank a trial.
    """

    def __init__(self, *, searched: Iterable[str], metric: str, mode: str, max_epochs: int,
                 epoch_rule: str = "best"):
        self.records = TrialRecords(searched=searched, metric=metric, mode=mode,
                                    max_epochs=max_epochs, epoch_rule=epoch_rule)
        self.events = 0  # bumped on every change to the rows, so subclasses can skip no-ops

    def _bump(self) -> None:
        self.events += 1

    def _changed(self, *, final: bool) -> None:
        """Hook for subclasses: the rows changed (`final` for events never to be throttled)."""

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info):
        self.records.start(trial.trial_id, trial.config or {}, time.time())
        self._bump()
        self._changed(final=False)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info):
        self.records.result(trial.trial_id, result, time.time())
        self._bump()
        self._changed(final=False)

    def _ensure_started(self, trial: Any) -> None:
        # A trial can end without ever starting (e.g. it failed while PENDING).
        if trial.trial_id not in self.records.trials:
            self.records.start(trial.trial_id, trial.config or {}, time.time())

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info):
        self._ensure_started(trial)
        self.records.finish(trial.trial_id, now=time.time())
        self._bump()
        self._changed(final=True)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info):
        self._ensure_started(trial)
        self.records.finish(trial.trial_id, error=error_reason(trial), now=time.time())
        self._bump()
        self._changed(final=True)

    # ------------------------------------------------------------- resume
    def _take_back_rows(self, folder, *, strict: bool) -> None:
        """Loads the rows a resumed search already wrote in `folder` (results/<name>).

        Tune restores callbacks from the copies it pickled when the search began (empty), so
        without this a resumed search would know only the trials run since. Rows of trials that
        the restored Tune does not know (they started after its last snapshot, and it samples
        replacements) are dropped at the first step, with their epochs.

        Args:
            strict: raise the `UserError` of an unreadable folder (the writer, which must not
                overwrite what it cannot read); otherwise start empty (a display).
        """
        from pathlib import Path

        from kdsearch.errors import UserError
        from kdsearch.results.store import TRIALS_FILE, covered_epochs, read_results

        self._reconcile = False
        if folder is None or not (Path(folder) / TRIALS_FILE).exists():
            return
        try:
            _, trials, epochs = read_results(folder)
        except UserError:
            if strict:
                raise
            return
        self.records.load(trials, covered_epochs(trials, epochs))
        self._reconcile = not trials.empty
        self._bump()

    def on_step_begin(self, iteration: int, trials: list, **info):
        if getattr(self, "_reconcile", False):
            self.records.forget_unknown({t.trial_id for t in trials})
            self._reconcile = False
            self._bump()

    def on_step_end(self, iteration: int, trials: list, **info):
        # Lets throttled work (a pending flush, a redraw) happen even when no result arrives.
        self._changed(final=False)


class TrackerCallback(RecordingCallback):
    """Feeds the trackers of `--log` (kdsearch.trackers) from the same trial events: parameters at
    a trial's start, every epoch's numbers, and at its end the status and best checkpoint.

    Args:
        specs: `kdsearch.trackers.TrackerSpec`s (already checked: their packages are installed).
        folder: the search's results/<name>; name: the search's name (MLflow's experiment).
    """

    def __init__(self, specs: list, folder: str, name: str, **records):
        super().__init__(**records)
        self.specs, self.folder, self.name = list(specs), str(folder), name
        self._trackers: list | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles callbacks for --resume; open writers and clients are rebuilt on setup.
        return {**self.__dict__, "_trackers": None}

    def setup(self, **info):
        from pathlib import Path

        from kdsearch.trackers import build_trackers

        self._trackers = []
        for spec in self.specs:  # one tracker that cannot start must not end the search
            try:
                self._trackers += build_trackers([spec], Path(self.folder), self.name)
            except Exception as exc:  # noqa: BLE001
                logger.warning("%s tracker could not start (nothing is logged to it): %s", spec.kind, exc)

    def _each(self, call: str, *args) -> None:
        for tracker in self._trackers or []:
            try:
                getattr(tracker, call)(*args)
            except Exception as exc:  # noqa: BLE001 - a tracker's hiccup must not end a search
                logger.warning("%s tracker: %s failed: %s", type(tracker).__name__, call, exc)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info):
        super().on_trial_start(iteration, trials, trial, **info)
        row = self.records.trials[trial.trial_id]
        params = {k.removeprefix("config/"): v for k, v in row.items()
                  if k in self.records.searched or k.startswith("config/")}
        self._each("start", trial.trial_id, params)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info):
        super().on_trial_result(iteration, trials, trial, result, **info)
        last = self.records.epochs[-1]
        numbers = {k: float(v) for k, v in last.items() if k not in ("trial_id", "epoch") and isinstance(v, (int, float))}
        self._each("epoch", trial.trial_id, int(last["epoch"]), numbers)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info):
        super().on_trial_complete(iteration, trials, trial, **info)
        self._end(trial)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info):
        super().on_trial_error(iteration, trials, trial, **info)
        self._end(trial)

    def _end(self, trial: Any) -> None:
        row = self.records.trials[trial.trial_id]
        best = {k: float(v) for k, v in row.items() if k.startswith("best_val_") and v is not None}
        self._each("end", trial.trial_id, row["status"], _best_checkpoint_dir(trial), best)

    def on_experiment_end(self, trials: list, **info):
        self._each("close")


def _best_checkpoint_dir(trial: Any) -> str | None:
    """The local folder of the trial's best checkpoint (by the search metric), else None (none
    yet, or it lives on remote --storage)."""
    try:
        result = trial.run_metadata.checkpoint_manager.best_checkpoint_result
        checkpoint = result.checkpoint if result is not None else None
        if checkpoint is None or checkpoint.filesystem.type_name != "local":
            return None
        return checkpoint.path if os.path.isdir(checkpoint.path) else None
    except Exception:  # noqa: BLE001 - Ray's internals moved: no artifact, never a failed search
        return None
