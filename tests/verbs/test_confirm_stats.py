"""confirm's plan (which runs) and statistics (scipy's paired tests), without training."""

import numpy as np
import pytest
from scipy import stats

from kdsearch.errors import UserError
from kdsearch.verbs.confirm_plan import build_plan, check_counts
from kdsearch.verbs.confirm_stats import chance_metrics, paired


def test_baselines_drop_kd_values_and_are_shared_by_configurations_with_one_student():
    plan = build_plan({}, [{"loss.beta": 2.0, "distill.temperature": 3.0, "student.d_model": 8},
                           {"loss.beta": 1.0, "student.d_model": 8}, {"loss.beta": 1.0, "student.d_model": 16}],
                      [0, 1], metric="val_acc7", mode="max", trial_ids=["a", "b", "c"])
    assert plan.baseline_of == {"#1 (a)": "no-KD", "#2 (b)": "no-KD", "#3 (c)": "no-KD 2"}
    assert plan.runs["no-KD"] == {"loss.beta": 0.0, "student.d_model": 8}
    assert plan.runs["no-KD 2"] == {"loss.beta": 0.0, "student.d_model": 16}
    assert plan.trial_of == {"#1 (a)": "a", "#2 (b)": "b", "#3 (c)": "c"}


@pytest.mark.parametrize("top, seeds, field", [(0, [0, 1], "--top"), (1, [0], "--seeds"), (1, [0, 0], "--seeds")])
def test_counts_are_checked(top, seeds, field):
    with pytest.raises(UserError, match=field):
        check_counts(top, seeds)


def test_paired_tests_are_scipys_on_matched_seeds():
    conf = {0: 0.5, 1: 0.6, 2: 0.55, 3: 0.7, 4: 0.65, 9: 0.9}  # seed 9 has no baseline: not paired
    base = {0: 0.4, 1: 0.45, 2: 0.5, 3: 0.5, 4: 0.6}
    out = paired(conf, base)
    diffs = [conf[s] - base[s] for s in range(5)]
    assert out["seeds"] == [0, 1, 2, 3, 4] and out["mean"] == pytest.approx(np.mean(diffs))
    assert out["std"] == pytest.approx(np.std(diffs, ddof=1))
    assert out["wilcoxon_p"] == pytest.approx(stats.wilcoxon(diffs).pvalue) == pytest.approx(0.0625)
    assert out["ttest_p"] == pytest.approx(stats.ttest_rel([conf[s] for s in range(5)], list(base.values())).pvalue)
    assert paired({0: 0.3, 1: 0.3}, {0: 0.3, 1: 0.3})["wilcoxon_p"] == 1.0
    assert paired({0: 0.3}, {0: 0.2})["wilcoxon_p"] is None  # one pair: no test


def test_chance_is_the_majority_training_class_on_test():
    train = np.array([0.0, 0.1, -0.2, 2.0])  # class of round(y)+3: mostly 3
    test = np.array([0.0, 0.0, 3.0, -3.0])
    assert chance_metrics("classification", train, test)["acc7"] == 0.5
    assert chance_metrics("regression", train, test)["mae"] == pytest.approx(np.mean(np.abs(test - 0.05)))
