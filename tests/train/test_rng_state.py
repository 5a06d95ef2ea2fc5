"""A trainer state saved after an epoch and loaded into a fresh run continues bit-identically to
the run that was never interrupted: weights, optimiser, data order and every global random
generator (dropout draws from torch's) travel in the state."""

import random

import numpy as np
import torch

from kdsearch.data.source import load_for_search
from kdsearch.spec.kinds import kind_of
from kdsearch.spec.space import load_space
from kdsearch.train import rng_state
from kdsearch.train.experiment import data_shapes_of


def _run(epochs: int):
    """The smoke space's student without KD (no teacher needed), dropout on as by default."""
    exp = load_space("smoke").config
    exp["loss"]["beta"] = 0.0
    exp["train"]["epochs"] = epochs
    exp["student"]["embed_dropout"] = 0.3  # dropout matters: make sure it draws
    arrays = load_for_search(exp["data"]).to_arrays()
    return kind_of(exp).build_run(exp, arrays, data_shapes_of(arrays), torch.device("cpu"))


def _fit(trainer, train, valid) -> list[dict]:
    seen: list[dict] = []
    trainer.hooks.append(lambda _t, epoch, metrics: seen.append(
        {k: v for k, v in metrics.items() if k != "epoch_time_s"}))
    trainer.fit(train, valid)
    return seen


def _resume_from(path, epochs: int, keep_rng: bool) -> list[dict]:
    # Other code ran in between (a fresh process, another trial in the same worker): scramble
    # every global generator so nothing but the checkpoint can bring them back.
    torch.manual_seed(12345), np.random.seed(12345), random.seed(12345)
    trainer, train, valid, _ = _run(epochs)
    saved = torch.load(path, weights_only=True)  # as a trial reads its checkpoint
    if not keep_rng:
        saved["trainer"].pop("rng")
    trainer.load_state(saved["trainer"], saved["epoch"])
    return _fit(trainer, train, valid)


def test_a_resumed_run_matches_the_uninterrupted_one_exactly(tmp_path, cache_dir):
    torch.set_num_threads(1)
    trainer, train, valid, _ = _run(3)
    uninterrupted = _fit(trainer, train, valid)

    trainer, train, valid, _ = _run(3)
    path = tmp_path / "state.pt"

    def save_after_first(t, epoch, _metrics):
        if epoch == 1:
            torch.save({"trainer": t.state(), "epoch": epoch}, path)
            # what the uninterrupted run would draw next is still ahead: nothing else may draw

    trainer.hooks.append(save_after_first)
    trainer.settings.epochs = 1
    _fit(trainer, train, valid)

    assert _resume_from(path, 3, keep_rng=True) == uninterrupted[1:]
    # Without the global states (the checkpoints of before), dropout draws differently.
    assert _resume_from(path, 3, keep_rng=False) != uninterrupted[1:]


def test_the_captured_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    torch.save(rng_state.capture(), tmp_path / "rng.pt")
    expected = (torch.rand(3), np.random.rand(3), random.random(), np.random.randn())
    torch.manual_seed(9), np.random.seed(9), random.seed(9)
    rng_state.restore(torch.load(tmp_path / "rng.pt", weights_only=True))
    again = (torch.rand(3), np.random.rand(3), random.random(), np.random.randn())
    assert torch.equal(expected[0], again[0]) and np.array_equal(expected[1], again[1])
    assert expected[2:] == again[2:]
