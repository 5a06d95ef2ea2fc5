"""Let the driver forget the per-metric statistics of trials that have finished.

Tune keeps, for every trial, max/min/avg/last-5/last-10 of every numeric metric it reported
(`trial.run_metadata.metric_analysis` and the deques of `metric_n_steps`), plus a cached JSON
copy of them, for as long as the experiment runs. A kdsearch trial reports ~60 numbers, so
that is ~55 KiB per finished trial in the driver (tracemalloc, benchmarks/driver_memory.py),
the bulk of its growth with trial count. kdsearch reads results from its own parquet files,
never from these statistics, so once a trial ends only the searched metrics are kept (Tune's
ResultGrid still ranks by them). `last_result` is left whole: Tune restores and reports from it.
"""

from __future__ import annotations

from ray import tune

ALWAYS_KEPT = ("training_iteration",)


class ForgetFinishedMetrics(tune.Callback):
    def __init__(self, metrics: list[str]):
        self.keep = frozenset([*metrics, *ALWAYS_KEPT])

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._forget(trial)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._forget(trial)

    def _forget(self, trial) -> None:
        meta = getattr(trial, "run_metadata", None)
        if meta is None or not hasattr(meta, "metric_analysis") or not hasattr(meta, "metric_n_steps"):
            return  # another Ray keeps them elsewhere: saving memory must never break a search
        # Assignment, not in-place edits: it also drops Tune's cached JSON of the old statistics.
        meta.metric_analysis = {k: v for k, v in meta.metric_analysis.items() if k in self.keep}
        meta.metric_n_steps = {k: v for k, v in meta.metric_n_steps.items() if k in self.keep}
