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
