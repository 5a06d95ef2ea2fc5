"""Validation metrics as the papers and MMSA report them (docs/methods.md §7) (numpy, no scikit-learn needed).

Classification (paper 000): 7 classes, accuracy ("acc7") and weighted F1 over the 7 classes
(paper 000 does not say which F1 average; weighted matches "good for imbalanced data"), plus a
binary negative/positive accuracy from the predicted class on samples whose true label is not 0.

Regression: MMSA's complete MOSEI set, each under the name MMSA's own key maps to:

  ===========  ===========================================================  ==================
  ours         definition                                                    MMSA key
  ===========  ===========================================================  ==================
  acc2_has0    all samples; (pred >= 0) == (label >= 0)                      Has0_acc_2
  f1_has0      weighted F1 of (label >= 0) against (pred >= 0)               Has0_F1_score
  acc2         samples with label != 0; (pred > 0) == (label > 0)            Non0_acc_2
  f1           weighted F1 of (label > 0) against (pred > 0) on those        Non0_F1_score
  acc5         round(clip(pred, -2, 2)) == round(clip(label, -2, 2))         Mult_acc_5
  acc7         round(clip(pred, -3, 3)) == round(clip(label, -3, 3))         Mult_acc_7
  mae          mean |pred - label|, no clipping                              MAE
  corr         Pearson r of pred and label (0 when either is constant)       Corr
  ===========  ===========================================================  ==================

acc2 and f1 (non-0) are what DMD's tables call ACC2 and F1. Rounding is numpy's half-to-even,
as MMSA's np.round. Every F1 weights each class by its support among the *labels* (sklearn's
f1_score(y_true=label, y_pred=pred, average='weighted'), as MMSA and DMD call it); MulT's own
eval passes the predictions as y_true, so its weights come from the predicted classes and its
F1 differs slightly: compare with MulT's printed F1 knowing that.
"""

from __future__ import annotations

import numpy as np


def weighted_f1(truth: np.ndarray, pred: np.ndarray) -> float:
    """F1 per class weighted by the class's support in `truth` (sklearn's average='weighted')."""
    truth, pred = np.asarray(truth), np.asarray(pred)
    if truth.size == 0:
        return float("nan")
    total = 0.0
    for cls in np.unique(truth):
        tp = np.sum((pred == cls) & (truth == cls))
        fp = np.sum((pred == cls) & (truth != cls))
        fn = np.sum((pred != cls) & (truth == cls))
        denom = 2 * tp + fp + fn
        f1 = 0.0 if denom == 0 else 2 * tp / denom
        total += f1 * np.sum(truth == cls)
    return float(total / truth.size)


def classification_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """acc7, f1 (weighted, 7 classes) and acc2 (non-zero truths) from 7-way logits."""
    pred = logits.argmax(axis=1)
    truth = seven_class(labels)
    nonzero = labels != 0
    # Class 3 is a prediction of 0: like a regression output of exactly 0 in the non0 convention
    # ((p > 0) vs (y > 0)), it counts as "not positive". Paper 000 reports no Acc2 to match.
    sign_pred = pred[nonzero] > 3
    sign_true = labels[nonzero] > 0
    return {
        "acc7": float(np.mean(pred == truth)),
        "f1": weighted_f1(truth, pred),
        "acc2": float(np.mean(sign_pred == sign_true)) if nonzero.any() else float("nan"),
    }


def regression_metrics(pred: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """MMSA's MOSEI set (module docstring) from continuous predictions."""
    pred = pred.reshape(-1).astype(np.float64)
    labels = labels.reshape(-1).astype(np.float64)
    nonzero = labels != 0
    both_vary = pred.std() > 0 and labels.std() > 0
    return {
        "mae": float(np.mean(np.abs(pred - labels))),
        "corr": float(np.corrcoef(pred, labels)[0, 1]) if both_vary else 0.0,
        "acc7": _rounded_accuracy(pred, labels, 3),
        "acc5": _rounded_accuracy(pred, labels, 2),
        "acc2": float(np.mean((pred[nonzero] > 0) == (labels[nonzero] > 0))) if nonzero.any() else float("nan"),
        "f1": weighted_f1(labels[nonzero] > 0, pred[nonzero] > 0),
        "acc2_has0": float(np.mean((pred >= 0) == (labels >= 0))),
        "f1_has0": weighted_f1(labels >= 0, pred >= 0),
    }


def _rounded_accuracy(pred: np.ndarray, labels: np.ndarray, bound: float) -> float:
    """Share of samples whose clipped, rounded (half to even) prediction equals the label's."""
    return float(np.mean(np.round(np.clip(pred, -bound, bound)) == np.round(np.clip(labels, -bound, bound))))


def seven_class(labels: np.ndarray) -> np.ndarray:
    """Paper 000's class of a continuous label: round(clip(y, -3, 3)) + 3, half to even."""
    return (np.round(np.clip(labels, -3.0, 3.0)) + 3).astype(np.int64)
