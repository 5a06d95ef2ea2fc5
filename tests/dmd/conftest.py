"""Tiny DMD shapes (d=8, 2 heads, 1 layer, lengths 6/10/10) and factories for the DMD tests."""

import pytest
import torch

from kdsearch.train.dmd_objective import build_dmd_objective
from kdsearch.train.tasks import get_task

DIMS = {"text": 12, "audio": 6, "vision": 5}
LENGTHS = {"text": 6, "audio": 10, "vision": 10}
TINY = {"d_model": 8, "heads": 2, "layers": 1}
NO_DROPOUT = {"attn_dropout": 0.0, "text_dropout": 0.0, "output_dropout": 0.0}


def make_batch(size=6, seed=0):
    """A batch dict like `TensorSplit.batch` gives; labels repeat so every margin variant has pairs."""
    gen = torch.Generator().manual_seed(seed)
    batch = {m: torch.randn(size, LENGTHS[m], DIMS[m], generator=gen) for m in DIMS}
    batch["label"] = torch.tensor([-2.0, -2.0, 0.4, 0.4, 1.6, 2.8][:size] * (size // 6 + 1))[:size]
    batch["index"] = torch.arange(size)
    return batch


@pytest.fixture
def batch():
    return make_batch()


@pytest.fixture
def make_objective():
    """Factory: a tiny DMDObjective; keyword overrides go to the YAML-style config."""
    def make(task="regression", seed=0, **cfg):
        torch.manual_seed(seed)
        return build_dmd_objective({**TINY, **NO_DROPOUT, **cfg}, dims=DIMS, lengths=LENGTHS, task=get_task(task))
    return make
