"""DMD's per-modality heads and learned edges as flat per-epoch metrics.

Graph distillation moves logits between the heads of each branch, so whether the heads learn the
task decides whether λ2 and the edges mean anything (see `task_terms` in
`kdsearch.train.dmd_objective`). Every epoch therefore records, on the validation split:

  * ``head/<branch>/<m>/val_<metric>`` for branch homo / hetero and modality L / A / V, and
    ``head/common/val_<metric>`` for the common branch: regression reports val_mae, val_corr and
    val_std (the spread of the head's outputs: ~0 for a head that settled on a constant);
    classification reports val_acc7 and val_f1;
  * ``edge/<unit>/<i>-><j>``: the mean learned weight of edge i -> j of HomoGD / HeteroGD
    (paper 003 Fig. 5), averaged over the validation samples.

Names carry no ``val_`` prefix in front, so they land in epochs.parquet without widening the
trials table (whose best_/last_ columns are the ``val_*`` metrics of the fused output).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from kdsearch.train.tasks import Task

STREAMS = ("L", "A", "V")
HEAD_METRICS = {"regression": ("mae", "corr"), "classification": ("acc7", "f1")}


def head_metrics(heads: dict[str, torch.Tensor], labels: np.ndarray, task: Task,
                 edges: dict[str, np.ndarray]) -> dict[str, float]:
    """Flat metrics from one validation pass (`DMDObjective.validation_pass`).

    Args:
        heads: head name ("homo/L", ..., "common") -> (N, n_out) outputs.
        labels: (N,) continuous labels of the same samples.
        task: the run's task (its metrics function and name).
        edges: {"homo": M, "hetero": M}, M[i, j] the weight of edge i -> j in L, A, V order.
    """
    out: dict[str, float] = {}
    for name, outputs in heads.items():
        values = outputs.numpy()
        scored = task.metrics(values, labels)
        for key in HEAD_METRICS[task.name]:
            out[f"head/{name}/val_{key}"] = float(scored[key])
        if task.name == "regression":
            out[f"head/{name}/val_std"] = float(values.std())
    for unit, matrix in edges.items():
        for i, j in itertools.permutations(range(len(STREAMS)), 2):
            out[f"edge/{unit}/{STREAMS[i]}->{STREAMS[j]}"] = float(matrix[i, j])
    return out
