"""The one training loop: hooks per epoch, divergence stops the run, a saved state resumes it."""

import math

import pytest
import torch
from torch import nn

from kdsearch.train.experiment import TensorSplit
from kdsearch.train.objectives import Objective
from kdsearch.train.tasks import get_task
from kdsearch.train.trainer import Trainer, TrainingDiverged, TrainSettings, best_tracker


class TinyObjective(Objective):
    """Video mean -> 7 logits; `scale` can push the loss to infinity to test divergence."""

    def __init__(self, task, scale: float = 1.0):
        super().__init__()
        self.task, self.scale = task, scale
        self.linear = nn.Linear(3, task.n_out)

    def predict(self, batch):
        return self.linear(batch["vision"].mean(dim=1)) * self.scale

    def forward(self, batch):
        logits = self.predict(batch)
        loss = self.task.loss(logits, batch["label"])
        return {"loss": loss, "task": loss, "logits": logits}


def tiny_split(n: int, seed: int) -> TensorSplit:
    gen = torch.Generator().manual_seed(seed)
    vision = torch.randn(n, 4, 3, generator=gen)
    label = vision.mean(dim=(1, 2)) * 6  # learnable from the video alone
    return TensorSplit(text=torch.zeros(n, 2, 1), audio=torch.zeros(n, 2, 1), vision=vision, label=label)


def make_trainer(epochs: int, scale: float = 1.0, hooks=None) -> Trainer:
    torch.manual_seed(0)
    task = get_task("classification")
    settings = TrainSettings(epochs=epochs, batch_size=8, lr=0.05, grad_clip=0.8, seed=3)
    return Trainer(TinyObjective(task, scale), task, settings, hooks=list(hooks or []))


def test_fit_calls_every_hook_once_per_epoch_with_validation_metrics():
    seen = []
    trainer = make_trainer(3, hooks=[lambda _t, epoch, metrics: seen.append((epoch, dict(metrics)))])
    last = trainer.fit(tiny_split(32, 0), tiny_split(16, 1))
    assert [epoch for epoch, _ in seen] == [1, 2, 3]
    assert {"train_loss", "val_loss", "val_acc7", "val_f1", "val_acc2", "epoch_time_s"} <= set(last)
    assert seen[-1][1]["train_loss"] < seen[0][1]["train_loss"]  # it learns


def test_a_loss_that_becomes_infinite_stops_the_run_with_the_reason():
    trainer = make_trainer(2, scale=float("inf"))
    with pytest.raises(TrainingDiverged, match="epoch 1"):
        trainer.fit(tiny_split(16, 0), tiny_split(8, 1))


def test_a_saved_state_resumes_to_the_same_weights_as_an_uninterrupted_run():
    train, valid = tiny_split(40, 0), tiny_split(8, 1)
    straight = make_trainer(4)
    straight.fit(train, valid)
    first = make_trainer(2)
    first.fit(train, valid)
    saved = first.state()
    resumed = make_trainer(4)
    resumed.load_state(saved, epoch=2)
    resumed.fit(train, valid)  # epochs 3 and 4, with the same batch order as the straight run
    for key, value in straight.objective.state_dict().items():
        assert torch.equal(value, resumed.objective.state_dict()[key]), key


def test_best_tracker_keeps_the_best_epoch_and_its_weights():
    tracker = best_tracker("val_loss", "min")
    trainer = make_trainer(3, hooks=[tracker])
    trainer.fit(tiny_split(32, 0), tiny_split(16, 1))
    assert tracker.best is not None and math.isfinite(tracker.best["val_loss"])
    assert set(tracker.weights) == set(trainer.objective.state_dict())
