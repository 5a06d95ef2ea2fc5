import pandas as pd

from kdsearch.results.pareto import objective_columns, pareto_mask


def test_pareto_front_of_accuracy_against_size():
    trials = pd.DataFrame({
        "trial_id": list("abcde"),
        "status": ["done", "done", "stopped", "done", "error"],
        "best_val_acc7": [0.50, 0.45, 0.40, 0.50, 0.90],
        "student_params": [1000, 500, 800, 1200, 10],
    })
    cols = objective_columns("val_acc7", "max", [{"metric": "student_params", "mode": "min"}])
    assert cols == [("best_val_acc7", "max"), ("student_params", "min")]
    # a: best accuracy at 1000 params; b: smaller; c is beaten by b; d by a; e failed.
    assert pareto_mask(trials, cols).tolist() == [True, True, False, False, False]


def test_pareto_missing_column_marks_nothing():
    trials = pd.DataFrame({"trial_id": ["a"], "best_val_acc7": [0.5]})
    assert not pareto_mask(trials, [("best_val_acc7", "max"), ("latency_ms", "min")]).any()
