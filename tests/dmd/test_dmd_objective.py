"""DMDObjective: the loss identity, every variant, training steps, edges, builder errors."""

import numpy as np
import pytest
import torch

from kdsearch.errors import SpaceError
from kdsearch.train.dmd_objective import DMD_DEFAULTS, build_dmd
from kdsearch.train.experiment import TensorSplit
from kdsearch.train.tasks import get_task
from kdsearch.train.trainer import Trainer, TrainSettings

from dmd_fixtures import DIMS, LENGTHS, TINY, make_batch

TERMS = ("loss", "task", "dec", "dtl", "rec", "cyc", "mar", "ort", "dtl_homo", "dtl_hetero")
CODE_VARIANTS = dict(task_terms="code", margin="code", orthogonality="code", ort_axis="batch",
                     edge_priors="code", gd_terms="code", fusion="code", conv_padding="valid")


def test_defaults_follow_the_paper_except_the_supervised_heads():
    assert (DMD_DEFAULTS["lambda1"], DMD_DEFAULTS["lambda2"], DMD_DEFAULTS["gamma"]) == (0.1, 0.05, 0.1)
    for key in ("margin", "orthogonality", "gd_terms", "fusion"):
        assert DMD_DEFAULTS[key] == "paper"
    assert DMD_DEFAULTS["edge_priors"] == "none" and DMD_DEFAULTS["conv_padding"] == "same"
    # Changed from "paper" (issue 15): the heads that graph distillation links must learn the task.
    assert DMD_DEFAULTS["task_terms"] == "code"


@pytest.mark.parametrize("variants", [{}, CODE_VARIANTS], ids=["paper", "code"])
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_loss_is_task_plus_weighted_dec_and_dtl(variants, task, make_objective, batch):
    objective = make_objective(task, lambda1=0.3, lambda2=0.7, gamma=0.5, **variants)
    out = objective(batch)
    assert all(torch.isfinite(out[k]) and out[k].dim() == 0 for k in TERMS)
    assert out["logits"].shape == (6, get_task(task).n_out)
    for key in ("task", "rec", "cyc", "mar", "dtl_homo", "dtl_hetero"):
        assert out[key] >= 0, key
    assert torch.isclose(out["dec"], out["rec"] + out["cyc"] + 0.5 * (out["mar"] + out["ort"]))
    assert torch.isclose(out["dtl"], out["dtl_homo"] + out["dtl_hetero"])
    assert torch.isclose(out["loss"], out["task"] + 0.3 * out["dec"] + 0.7 * out["dtl"])


def test_code_task_terms_add_seven_head_losses(make_objective, batch):
    paper, code = make_objective(seed=1, task_terms="paper"), make_objective(seed=1, task_terms="code")
    assert code(batch)["task"] > paper(batch)["task"]


def test_gradients_reach_the_network_and_both_edge_mlps(make_objective, batch):
    objective = make_objective()
    objective(batch)["loss"].backward()
    for name in ("model.decoupling.shared.weight", "model.body.encoders.V<-A.layers.0.fc1.weight",
                 "homo_gd.edge.weight", "hetero_gd.edge.weight", "model.fusion.head.out_layer.weight"):
        grad = dict(objective.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_total_loss_decreases_over_a_few_steps(make_objective):
    objective = make_objective(seed=3)
    batch = make_batch(size=6, seed=3)
    optimizer = torch.optim.Adam(objective.parameters(), lr=3e-3)
    losses = []
    # 20 steps (10 before issue 15): the default loss now also holds the seven heads' task terms,
    # which start high (13.1 here against ~2 for the fused output alone) and take longer to fall.
    for _ in range(20):
        loss = objective(batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_the_trainer_runs_an_epoch_and_evaluates(make_objective):
    data = make_batch(size=12, seed=4)
    split = TensorSplit(text=data["text"], audio=data["audio"], vision=data["vision"], label=data["label"])
    objective = make_objective(seed=4)
    trainer = Trainer(objective, get_task("regression"), TrainSettings(epochs=1, batch_size=4, lr=1e-3))
    metrics = trainer.fit(split, split)
    assert np.isfinite(metrics["train_loss"]) and {"val_mae", "val_acc2", "val_corr"} <= set(metrics)
    assert trainer.predict(split).shape == (12, 1)


def test_edge_matrices_are_3x3_and_sum_to_one(make_objective):
    objective = make_objective()
    objective.train()
    batches = [make_batch(size=6, seed=s) for s in (5, 6)]
    edges = objective.edge_matrices(batches)
    assert objective.training  # mode restored
    assert set(edges) == {"homo", "hetero"}
    for matrix in edges.values():
        assert matrix.shape == (3, 3) and np.isclose(matrix.sum(), 1.0) and (np.diag(matrix) == 0).all()


def test_unknown_key_names_the_field_and_suggests():
    with pytest.raises(SpaceError) as err:
        build_dmd({"lamda1": 0.2}, dims=DIMS, lengths=LENGTHS, n_out=1)
    assert err.value.field == "model.lamda1" and "did you mean 'lambda1'" in err.value.message


@pytest.mark.parametrize("cfg, field", [
    ({"margin": "triplet"}, "model.margin"),
    ({"lambda2": -1.0}, "model.lambda2"),
    ({"heads": 3}, "model.heads"),
    ({"ort_axis": "time"}, "model.ort_axis"),
    ({"conv_padding": "valid", "conv_kernel_text": 9}, "model.conv_kernel_text"),
])
def test_bad_values_name_the_field(cfg, field, make_objective):
    with pytest.raises(SpaceError) as err:
        make_objective(**cfg)
    assert err.value.field == field


def test_section_name_is_configurable_for_a_dmd_teacher():
    model = build_dmd({**TINY, "lambda1": 0.5}, dims=DIMS, lengths=LENGTHS, n_out=7, section="teacher")
    assert model.n_out == 7
    with pytest.raises(SpaceError) as err:
        build_dmd({"fusion": "sum"}, dims=DIMS, lengths=LENGTHS, n_out=7, section="teacher")
    assert err.value.field == "teacher.fusion"
