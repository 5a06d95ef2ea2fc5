"""The reference codes' training recipes as options of the one Trainer, and the presets naming them."""

import io
from pathlib import Path

import pytest
import torch
import yaml

from kdsearch.errors import SpaceError
from kdsearch.models import build_teacher
from kdsearch.spec.space import load_space
from kdsearch.train.experiment import TensorSplit
from kdsearch.train.objectives import TaskObjective
from kdsearch.train.recipes import PRESETS
from kdsearch.train.tasks import get_task
from kdsearch.train.trainer import Trainer, TrainSettings

DIMS = {"text": 6, "audio": 4, "vision": 5}
LENGTHS = {"text": 4, "audio": 6, "vision": 6}


def split(n, seed):
    gen = torch.Generator().manual_seed(seed)
    return TensorSplit(text=torch.randn(n, 4, 6, generator=gen), audio=torch.randn(n, 6, 4, generator=gen),
                       vision=torch.randn(n, 6, 5, generator=gen), label=torch.empty(n).uniform_(-3, 3, generator=gen))


def trainer(epochs=1, batch_size=4, lr=1e-3, hooks=(), **recipe):
    torch.manual_seed(0)
    no_dropout = {k: 0.0 for k in ("attn_dropout", "relu_dropout", "res_dropout", "embed_dropout")}
    model = build_teacher({"d_model": 8, "heads": 2, "layers": 1, "branch": "video", **no_dropout}, dims=DIMS,
                          lengths=LENGTHS, n_out=1)  # no dropout: training and a manual pass see one function
    objective = TaskObjective(model, get_task("regression"))
    settings = TrainSettings(epochs=epochs, batch_size=batch_size, lr=lr, **recipe)
    return Trainer(objective, get_task("regression"), settings, hooks=list(hooks))


def adam_steps(t: Trainer) -> int:
    return int(next(iter(t.optimizer.state.values()))["step"])


def test_accumulation_takes_one_step_per_group_and_one_for_the_last_partial_group():
    t = trainer(accumulate=3)
    t.train_epoch(split(28, 0), epoch=1)  # 7 batches: groups of 3, 3, 1
    assert adam_steps(t) == 3


def test_accumulated_gradient_is_the_sum_over_the_group():
    data = split(12, 1)
    t = trainer(accumulate=3)  # 3 batches of 4: one group, the gradient left after the epoch is its sum
    expected = [torch.zeros_like(p) for p in t.params]
    order = torch.randperm(12, generator=torch.Generator().manual_seed(0))  # the trainer's first shuffle
    for start in range(0, 12, 4):
        t.objective.zero_grad()
        t.objective(data.batch(order[start:start + 4]))["loss"].backward()
        expected = [e + p.grad for e, p in zip(expected, t.params)]
    before = [p.detach().clone() for p in t.params]
    t.train_epoch(data, epoch=1)
    assert adam_steps(t) == 1
    for got, want, old in zip(t.params, expected, before):
        assert not torch.equal(got.detach(), old)
        assert torch.allclose(got.grad, want, atol=1e-6)


def test_clipping_by_value_bounds_every_gradient_entry():
    t = trainer(grad_clip=1e-4, clip_mode="value")
    t.train_epoch(split(8, 2), epoch=1)
    grads = [p.grad for p in t.params if p.grad is not None]
    assert grads and max(float(g.abs().max()) for g in grads) <= 1e-4 + 1e-12


def test_plateau_schedule_cuts_the_rate_after_patience_epochs_without_improvement():
    seen = []
    # At lr 1e-6 the predictions move by far less than a rounding step, so acc7 stays put and every
    # epoch after the first is a bad one.
    t = trainer(epochs=4, lr=1e-6, lr_schedule="plateau", plateau_factor=0.5, plateau_patience=1,
                plateau_metric="val_acc7", hooks=[lambda _t, _e, m: seen.append(m["lr"])])
    t.fit(split(8, 3), split(8, 4))
    assert seen == [1e-6, 1e-6, 1e-6, 0.5e-6]


def test_early_stop_ends_the_run_and_says_so():
    seen = []
    t = trainer(epochs=10, lr=1e-6, early_stop_patience=2, early_stop_metric="val_acc7",
                hooks=[lambda _t, e, m: seen.append((e, m))])
    last = t.fit(split(8, 3), split(8, 4))
    assert [e for e, _ in seen] == [1, 2, 3]  # epoch 1 sets the best, 2 and 3 bring nothing
    assert last["early_stopped"] == 1.0 and "early_stopped" not in seen[0][1]


def test_scheduler_and_stopper_state_travel_in_the_checkpoint():
    recipe = dict(lr=1e-6, lr_schedule="plateau", plateau_patience=0, plateau_metric="val_acc7",
                  early_stop_patience=5, early_stop_metric="val_acc7")
    t = trainer(epochs=2, **recipe)
    t.fit(split(8, 3), split(8, 4))
    buffer = io.BytesIO()  # as a trial checkpoints: torch.save, then a weights_only load
    torch.save(t.state(), buffer)
    buffer.seek(0)
    fresh = trainer(epochs=3, **recipe)
    fresh.load_state(torch.load(buffer, weights_only=True), epoch=2)
    assert fresh.scheduler.state_dict() == t.scheduler.state_dict()
    assert fresh.stopper.bad_epochs == t.stopper.bad_epochs == 1
    assert fresh.optimizer.param_groups[0]["lr"] == t.optimizer.param_groups[0]["lr"] == 0.1e-6


def space_file(tmp_path: Path, train: dict, **extra) -> str:
    raw = yaml.safe_load(Path("search_spaces/smoke.yaml").read_text())
    raw["train"] = {"epochs": 3, **train}  # the smoke space's own lr and batch size dropped
    raw.update(extra)
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_a_preset_fills_what_the_section_leaves_unset(tmp_path):
    space = load_space(space_file(tmp_path, {"preset": "dmd", "lr": 5e-4}))
    train = space.config["train"]
    assert train["lr"] == 5e-4  # the file's own key wins
    for key in ("batch_size", "accumulate", "grad_clip", "clip_mode", "plateau_factor", "early_stop_patience"):
        assert train[key] == PRESETS["dmd"][key], key
    assert (train["accumulate"], train["clip_mode"], train["grad_clip"]) == (10, "value", 0.6)
    mult = load_space(space_file(tmp_path, {"preset": "mult"})).config["train"]
    assert (mult["lr_schedule"], mult["plateau_factor"], mult["grad_clip"], mult["clip_mode"]) == \
        ("plateau", 0.1, 0.8, "norm")


@pytest.mark.parametrize("train, extra, field", [
    ({"preset": "dmdd"}, {}, "train.preset"),
    ({"accumulate": 0}, {}, "train.accumulate"),
    ({"clip_mode": "abs"}, {}, "train.clip_mode"),
    ({"lr_schedule": "plateau", "plateau_metric": "val_acc7x"}, {}, "train.plateau_metric"),
    ({}, {"params": {"train.preset": {"type": "categorical", "choices": ["none", "dmd"]}}}, "params.train.preset"),
])
def test_bad_recipe_is_one_line_naming_the_field(tmp_path, train, extra, field):
    with pytest.raises(SpaceError) as err:
        load_space(space_file(tmp_path, train, **extra))
    assert err.value.field == field and err.value.file.endswith("space.yaml")
