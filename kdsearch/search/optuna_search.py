"""Ray's OptunaSearch, but honest about trials that ASHA stopped.

When ASHA stops a trial, Ray calls ``searcher.on_trial_complete`` with the trial's last
(low-fidelity) result and Ray's OptunaSearch tells Optuna the trial is COMPLETE with that value.
TPE then treats a one-epoch score as a finished one. Optuna has a principled state for this,
PRUNED (TPE ranks pruned trials by the step they reached, then their last value), so a trial
that ends before ``max_t`` is reported at its last step and told PRUNED.

Uses OptunaSearch's private attributes (``_ot_trials``, ``_ot_study``, ``_completed_trials``);
ray is pinned to 2.60.0 in pyproject.toml and tests/search/test_optuna_search.py checks this.
"""

from __future__ import annotations

from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch


class PruningAwareOptunaSearch(OptunaSearch):
    def __init__(self, *args, max_t: int, time_attr: str = "training_iteration", **kwargs):
        super().__init__(*args, **kwargs)
        self._max_t = int(max_t)
        self._time_attr = time_attr

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        # After a driver kill, Tune's restored snapshot can be older than the journal: a trial the
        # study already finished may report again. The study is the truth; drop the late report.
        if self._finished_in_study(trial_id):
            return
        try:
            super().on_trial_result(trial_id, result)
        except UpdateFinishedTrialError:
            pass

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if self._finished_in_study(trial_id):
            self._completed_trials.add(trial_id)
            return
        if isinstance(self.metric, list) and self._ended_before_max_t(trial_id, result, error):
            # Multi-objective studies take no intermediate values; the trial is still pruned.
            self._ot_study.tell(self._ot_trials[trial_id], state=TrialState.PRUNED)
            self._completed_trials.add(trial_id)
            return
        if self._stopped_early(trial_id, result, error):
            ot_trial = self._ot_trials[trial_id]
            step = int(result[self._time_attr])
            value = result[self.metric]
            stored = ot_trial.storage.get_trial(ot_trial._trial_id)
            if step not in stored.intermediate_values:
                # Ray never passes the stopping result to on_trial_result, so record it here.
                ot_trial.report(value, step)
            self._ot_study.tell(ot_trial, state=TrialState.PRUNED)
            self._completed_trials.add(trial_id)
            return
        super().on_trial_complete(trial_id, result=result, error=error)

    def _finished_in_study(self, trial_id: str) -> bool:
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is None:
            return False
        return ot_trial.storage.get_trial(ot_trial._trial_id).state.is_finished()

    def _ended_before_max_t(self, trial_id: str, result: dict | None, error: bool) -> bool:
        return bool(
            result
            and not error
            and result.get(self._time_attr, self._max_t) < self._max_t
            and trial_id in self._ot_trials
            and trial_id not in self._completed_trials
        )

    def _stopped_early(self, trial_id: str, result: dict | None, error: bool) -> bool:
        return (not isinstance(self.metric, list) and self._ended_before_max_t(trial_id, result, error)
                and result.get(self.metric) is not None)
