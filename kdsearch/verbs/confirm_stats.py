"""`kdsearch confirm`'s numbers: per configuration mean ± std over seeds, and the paired
difference to its no-KD baseline with two paired tests (scipy).

Spreads are sample standard deviations (ddof=1). A configuration and its baseline are paired by
training seed; only seeds where both runs finished are paired. Two-sided tests on the per-seed
differences: the Wilcoxon signed-rank test (exact for few seeds; makes no normality assumption,
which 3-10 seeds cannot check, so the tables show it) and the paired t-test (in confirm.json).
With N seeds the smallest Wilcoxon p-value is 2 / 2^N: 0.5 for 2 seeds, 0.0625 for 5.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

SHOWN_TEST = "wilcoxon"
TESTS = {"wilcoxon": "Wilcoxon signed-rank (two-sided)", "ttest": "paired t-test (two-sided)"}


def spread(values: list[float]) -> dict:
    arr = np.asarray(values, dtype=float)
    return {"mean": float(arr.mean()) if arr.size else None,
            "std": float(arr.std(ddof=1)) if arr.size > 1 else None, "n": int(arr.size),
            "values": [float(v) for v in arr]}


def paired(config: dict[int, float], baseline: dict[int, float]) -> dict:
    """The per-seed differences config − baseline and both tests' p-values."""
    from scipy import stats

    seeds = sorted(set(config) & set(baseline))
    diffs = [float(config[s]) - float(baseline[s]) for s in seeds]
    out = {**spread(diffs), "seeds": seeds, "wilcoxon_p": None, "ttest_p": None}
    if len(diffs) < 2 or any(math.isnan(d) for d in diffs):
        return out
    if all(d == 0 for d in diffs):  # identical runs: no difference to test
        return {**out, "wilcoxon_p": 1.0, "ttest_p": 1.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny samples: scipy warns that exact/normal p-values are coarse
        out["wilcoxon_p"] = _p(stats.wilcoxon(diffs).pvalue)
        out["ttest_p"] = _p(stats.ttest_rel([config[s] for s in seeds], [baseline[s] for s in seeds]).pvalue)
    return out


def _p(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def summarise(runs: list[dict], plan, *, teacher: dict, chance: dict) -> dict:
    """The JSON report.

    Args:
        runs: one dict per finished run: configuration, seed, epoch (chosen on validation),
            val and test metrics (name -> value, no prefixes).
        plan: the `ConfirmPlan`.
        teacher: teacher label -> its test metrics; chance: a constant predictor's test metrics.
    """
    by_label: dict[str, dict[int, dict]] = {label: {} for label in plan.runs}
    for run in runs:
        by_label.setdefault(run["configuration"], {})[int(run["seed"])] = run
    metrics = sorted({m for run in runs for m in run["test"]})
    configurations = {}
    for label, overrides in plan.runs.items():
        done = by_label.get(label, {})
        entry = {"overrides": overrides, "trial": plan.trial_of.get(label), "baseline": plan.baseline_of.get(label),
                 "seeds": sorted(done), "epochs": [done[s]["epoch"] for s in sorted(done)],
                 "test": {m: spread([done[s]["test"][m] for s in sorted(done) if m in done[s]["test"]])
                          for m in metrics},
                 "val": {m: spread([done[s]["val"][m] for s in sorted(done) if m in done[s]["val"]])
                         for m in sorted({m for r in done.values() for m in r["val"]})}}
        base = by_label.get(plan.baseline_of.get(label, ""), {})
        if label in plan.baseline_of:
            entry["vs_baseline"] = {m: paired({s: r["test"][m] for s, r in done.items() if m in r["test"]},
                                              {s: r["test"][m] for s, r in base.items() if m in r["test"]})
                                    for m in metrics}
        configurations[label] = entry
    return {"command": "confirm", "metric": plan.metric, "mode": plan.mode, "seeds": plan.seeds,
            "metrics": metrics, "shown_test": SHOWN_TEST, "tests": TESTS, "configurations": configurations,
            "teacher": teacher, "chance": chance, "runs": runs}


def chance_metrics(task_name: str, train_labels: np.ndarray, test_labels: np.ndarray) -> dict[str, float]:
    """Test metrics of a constant predictor fitted on the training labels alone: the majority
    class (classification) or the median label (regression, the MAE-optimal constant)."""
    from kdsearch.train.metrics import seven_class
    from kdsearch.train.tasks import get_task

    task = get_task(task_name)
    n = len(test_labels)
    if task.n_out > 1:
        majority = int(np.bincount(seven_class(np.asarray(train_labels).reshape(-1)), minlength=task.n_out).argmax())
        preds = np.zeros((n, task.n_out), dtype=np.float32)
        preds[:, majority] = 1.0
    else:
        preds = np.full((n, 1), float(np.median(train_labels)), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {k: float(v) for k, v in task.metrics(preds, np.asarray(test_labels)).items()}
