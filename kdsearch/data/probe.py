"""Cheap linear probes: how much of the 7-class label each view of a dataset reveals.

Used to check a synthetic design without training transformers (docs/methods.md §9): text should
reveal the label well, averaged video frames barely, and video at the planted event frames
clearly better than averaged video, which is what attention distillation can transfer.
"""

from __future__ import annotations

import numpy as np

from kdsearch.data.layout import Dataset, SplitArrays


def ridge_fit(x: np.ndarray, y: np.ndarray, lam: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge regression on standardised features; returns (mean, std, weights with bias last)."""
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
    w = np.linalg.solve(z.T @ z + lam * np.eye(z.shape[1]), z.T @ y)
    return mu, sd, w


def acc7(pred: np.ndarray, y: np.ndarray) -> float:
    """7-class accuracy of regression outputs, half-to-even rounding after clipping (MulT Acc7)."""
    return float(np.mean(np.round(np.clip(pred, -3, 3)) == np.round(np.clip(y, -3, 3))))


def _views(s: SplitArrays) -> dict[str, np.ndarray]:
    views = {"text_mean": s.text.mean(1), "audio_mean": s.audio.mean(1), "vision_mean": s.vision.mean(1)}
    if "vision_events" in s.extras:
        rows = np.arange(s.n)[:, None]
        views["vision_at_events"] = s.vision[rows, s.extras["vision_events"]].mean(1)
    return views


def linear_probes(ds: Dataset, n_labelled: int | None = None, lam: float = 1.0) -> dict[str, float]:
    """Test-split 7-class accuracy of a ridge probe per view, fitted on the train split.

    Args:
        ds: a loaded dataset with train and test splits.
        n_labelled: fit on only the first n training samples (the student's scarce labels).
        lam: ridge strength.

    Returns:
        view name -> accuracy; views: text_mean, audio_mean, vision_mean and, for synthetic
        data (planted events stored), vision_at_events.
    """
    train, test = ds.splits["train"], ds.splits["test"]
    n = train.n if n_labelled is None else min(n_labelled, train.n)
    train_views, test_views = _views(train), _views(test)
    out = {}
    for name, x in train_views.items():
        mu, sd, w = ridge_fit(x[:n].astype(np.float64), train.label[:n].astype(np.float64), lam)
        z = np.hstack([(test_views[name] - mu) / sd, np.ones((test.n, 1))])
        out[name] = acc7(z @ w, test.label)
    return out


def event_hit_rate(features: np.ndarray, events: np.ndarray, direction: np.ndarray) -> float:
    """Fraction of planted events among each sample's top-E steps by projection on `direction`.

    With the generator's own (secret) direction this bounds how visible a signature is: ~1 for
    audio spikes, well below 1 for the faint video cue; chance is E / T.
    """
    score = features @ direction
    top = np.argsort(-score, axis=1)[:, : events.shape[1]]
    hits = [len(np.intersect1d(a, b)) for a, b in zip(top, events)]
    return float(np.sum(hits) / events.size)
