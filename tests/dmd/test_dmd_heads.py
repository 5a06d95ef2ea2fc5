"""DMD's per-modality heads: supervised by default, and recorded every epoch (issue 15)."""

import numpy as np
import pytest
import torch

from kdsearch.train.experiment import TensorSplit
from kdsearch.train.tasks import get_task
from kdsearch.train.trainer import Trainer, TrainSettings

from dmd_fixtures import make_batch

HEAD_OUTPUTS = ["model.homo_heads.L.out_layer.weight", "model.homo_heads.A.out_layer.weight",
                "model.homo_heads.V.out_layer.weight", "model.hetero_heads.L.out_layer.weight",
                "model.hetero_heads.A.out_layer.weight", "model.hetero_heads.V.out_layer.weight",
                "model.common_head.out_layer.weight"]


def _head_grads(objective, batch):
    objective(batch)["loss"].backward()
    params = dict(objective.named_parameters())
    return {name: params[name].grad for name in HEAD_OUTPUTS}


def test_by_default_the_task_trains_every_head_without_graph_distillation(make_objective, batch):
    """With λ2 = 0 nothing but the task loss can reach the heads: under the old default
    (task_terms: paper) they got no gradient at all and stayed at their initialisation."""
    grads = _head_grads(make_objective(lambda2=0.0), batch)
    for name, grad in grads.items():
        assert grad is not None and grad.abs().sum() > 0, name


def test_fused_only_variant_leaves_the_heads_to_graph_distillation(make_objective, batch):
    grads = _head_grads(make_objective(lambda2=0.0, task_terms="paper"), batch)
    assert all(grad is None or grad.abs().sum() == 0 for grad in grads.values())


def test_common_branch_attention_dropout_follows_each_modality(make_objective):
    """DMD's code: self-attention on L uses attn_dropout, on A attn_dropout_a, on V attn_dropout_v."""
    model = make_objective(attn_dropout=0.4, attn_dropout_a=0.1, attn_dropout_v=0.2).model
    got = {m: model.common_encoders[m].layers[0].attn.dropout for m in ("L", "A", "V")}
    assert got == {"L": 0.4, "A": 0.1, "V": 0.2}


def _split(size, seed):
    data = make_batch(size=size, seed=seed)
    return TensorSplit(text=data["text"], audio=data["audio"], vision=data["vision"], label=data["label"])


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_every_epoch_records_each_heads_validation_metrics_and_the_edges(task, make_objective):
    train, valid = _split(12, 7), _split(12, 8)
    seen = []
    trainer = Trainer(make_objective(task), get_task(task), TrainSettings(epochs=2, batch_size=4, lr=1e-3),
                      hooks=[lambda _t, _e, metrics: seen.append(metrics)])
    trainer.fit(train, valid)
    assert len(seen) == 2
    metric = "val_mae" if task == "regression" else "val_acc7"
    heads = [f"{b}/{m}" for b in ("homo", "hetero") for m in ("L", "A", "V")] + ["common"]
    for metrics in seen:
        assert all(np.isfinite(metrics[f"head/{h}/{metric}"]) for h in heads)
        homo = sum(metrics[f"edge/homo/{a}->{b}"] for a in "LAV" for b in "LAV" if a != b)
        assert homo == pytest.approx(1.0, abs=1e-5)  # each sample's six edge weights sum to 1
    if task == "regression":  # the head's own outputs, scored against the labels
        objective = trainer.objective
        _, outputs = objective.validation_pass(valid.batches(12, shuffle=False))
        pred = outputs["homo/L"].numpy().reshape(-1)
        assert seen[-1]["head/homo/L/val_mae"] == pytest.approx(np.abs(pred - valid.label.numpy()).mean(), rel=1e-5)
        assert seen[-1]["head/homo/L/val_std"] == pytest.approx(pred.std(), rel=1e-4)
