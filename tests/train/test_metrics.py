import numpy as np
import pytest
import torch

from kdsearch.train.metrics import classification_metrics, regression_metrics, seven_class, weighted_f1
from kdsearch.train.tasks import get_task


def test_seven_class_rounds_half_to_even_and_clips():
    labels = np.array([-3.7, -2.5, -0.5, 0.0, 0.5, 1.5, 2.5, 3.2])
    assert seven_class(labels).tolist() == [0, 1, 3, 3, 3, 5, 5, 6]


def test_task_target_matches_metric_classes():
    labels = np.array([-2.5, -0.5, 0.5, 1.5, 2.49], dtype=np.float32)
    logits = torch.nn.functional.one_hot(torch.from_numpy(seven_class(labels)), 7).float() * 20
    loss = get_task("classification").loss(logits, torch.from_numpy(labels))
    assert float(loss) < 1e-6  # the CE target is exactly the metric's class


def test_weighted_f1_matches_hand_computation():
    truth = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 2, 2])
    # class 0: p=1, r=2/3 -> 0.8; class 1: p=.5 r=.5 -> .5; class 2: p=.5 r=1 -> 2/3
    expected = (3 * 0.8 + 2 * 0.5 + 1 * (2 / 3)) / 6
    assert weighted_f1(truth, pred) == pytest.approx(expected)


def test_classification_metrics_perfect_and_acc2_skips_zero_labels():
    labels = np.array([-3.0, -1.0, 0.0, 1.0, 3.0])
    logits = np.eye(7)[seven_class(labels)]
    m = classification_metrics(logits, labels)
    assert m["acc7"] == 1.0 and m["f1"] == 1.0 and m["acc2"] == 1.0


def test_regression_metrics():
    labels = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    pred = labels + 0.1
    m = regression_metrics(pred, labels)
    assert m["mae"] == pytest.approx(0.1)
    assert m["corr"] == pytest.approx(1.0)
    assert m["acc7"] == 1.0
    assert m["acc2"] == 1.0  # zero label excluded


# Fixed predictions with labels of exactly 0 and half-way values (0.5, 1.5, -2.5, 2.5): the
# expected values below are counted by hand from MMSA's definitions, sample by sample.
LABELS = np.array([0.0, 0.0, 0.5, -2.5, 1.5, -0.5, 2.5, -3.0, 3.4, 1.0])
PREDS = np.array([0.2, -0.1, 0.3, -2.5, 2.5, 0.4, 1.6, -2.4, 0.0, -0.5])


def _support_weighted_f1(truth, pred):
    """F1 per class weighted by the class's share of `truth`, written out by the definition."""
    total = 0.0
    for cls in set(truth):
        tp = sum(t == cls and p == cls for t, p in zip(truth, pred))
        fp = sum(t != cls and p == cls for t, p in zip(truth, pred))
        fn = sum(t == cls and p != cls for t, p in zip(truth, pred))
        total += (2 * tp / (2 * tp + fp + fn)) * sum(t == cls for t in truth)
    return total / len(truth)


def test_regression_metrics_are_mmsas_complete_mosei_set_by_definition():
    m = regression_metrics(PREDS, LABELS)
    # has-0: label >= 0 against pred >= 0 on all 10 (pred 0.0 counts as non-negative); misses 1, 5, 9.
    assert m["acc2_has0"] == pytest.approx(7 / 10)
    # weighted: class True (7 labels) F1 = 10/13, class False (3 labels) F1 = 4/7.
    assert m["f1_has0"] == pytest.approx((7 * 10 / 13 + 3 * 4 / 7) / 10)
    # non-0: the two zero labels dropped; label > 0 against pred > 0 on 8, misses 5, 8 (pred 0.0), 9.
    assert m["acc2"] == pytest.approx(5 / 8)
    assert m["f1"] == pytest.approx((5 * 2 / 3 + 3 * 4 / 7) / 8)
    # acc7: clip [-3, 3], round half to even (0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -2.5 -> -2); misses 7, 8, 9.
    assert m["acc7"] == pytest.approx(7 / 10)
    # acc5: clip [-2, 2] first, so label -3.0 and pred -2.4 both become -2; misses 8, 9.
    assert m["acc5"] == pytest.approx(8 / 10)
    assert m["mae"] == pytest.approx(8.8 / 10)
    dp, dl = PREDS - PREDS.mean(), LABELS - LABELS.mean()
    assert m["corr"] == pytest.approx((dp * dl).sum() / np.sqrt((dp ** 2).sum() * (dl ** 2).sum()))


def test_regression_metrics_agree_with_a_loop_over_samples():
    """The same definitions as plain Python (round() is half to even too), sample by sample."""
    m = regression_metrics(PREDS, LABELS)
    pairs = list(zip(PREDS.tolist(), LABELS.tolist()))
    clip = lambda x, b: max(-b, min(b, x))  # noqa: E731
    assert m["acc7"] == pytest.approx(np.mean([round(clip(p, 3)) == round(clip(y, 3)) for p, y in pairs]))
    assert m["acc5"] == pytest.approx(np.mean([round(clip(p, 2)) == round(clip(y, 2)) for p, y in pairs]))
    assert m["f1_has0"] == pytest.approx(_support_weighted_f1([y >= 0 for _, y in pairs], [p >= 0 for p, _ in pairs]))
    nonzero = [(p, y) for p, y in pairs if y != 0]
    assert m["f1"] == pytest.approx(_support_weighted_f1([y > 0 for _, y in nonzero], [p > 0 for p, _ in nonzero]))


def test_half_away_rounding_would_score_differently():
    """Guards the convention: label 0.5 / pred 0.3 match only under half-to-even (both 0)."""
    m = regression_metrics(np.array([0.3, 2.5]), np.array([0.5, 1.5]))
    assert m["acc7"] == 1.0  # half-away-from-zero rounding would give 1 vs 0 and 3 vs 2: 0.0


def test_classification_keeps_acc7_f1_and_acc2_only():
    labels = np.array([-3.0, -1.0, 0.0, 1.0, 3.0])
    assert set(classification_metrics(np.eye(7)[seven_class(labels)], labels)) == {"acc7", "f1", "acc2"}
