"""A finished trial keeps Tune's statistics of the searched metrics only (driver memory, #9)."""

from __future__ import annotations

from ray.tune.experiment import Trial

from kdsearch.search.forget_finished import ForgetFinishedMetrics


def test_finished_trial_keeps_only_the_searched_metrics():
    trial = Trial("student_trial", stub=True, _setup_default_resource=False)
    for step in (1, 2):
        trial.update_last_result({"training_iteration": step, "val_acc7": 0.1 * step, "val_loss": 1.0 / step,
                                  "latency_ms": 3.0, "student_params": 1234})
    before = trial.get_json_state()[1]
    ForgetFinishedMetrics(["val_acc7"]).on_trial_complete(0, [trial], trial)

    assert set(trial.run_metadata.metric_analysis) == {"val_acc7", "training_iteration"}
    assert set(trial.run_metadata.metric_n_steps) == {"val_acc7", "training_iteration"}
    assert trial.run_metadata.metric_analysis["val_acc7"]["max"] == 0.2
    assert len(trial.get_json_state()[1]) < len(before)  # Tune's cached JSON was rebuilt, smaller
    assert trial.last_result["latency_ms"] == 3.0  # the last result itself is untouched
