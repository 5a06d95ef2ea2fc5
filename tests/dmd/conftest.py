"""Fixtures for the DMD tests: a tiny batch and a DMDObjective factory."""

import pytest
import torch
from dmd_fixtures import DIMS, LENGTHS, NO_DROPOUT, TINY, make_batch

from kdsearch.train.dmd_objective import build_dmd_objective
from kdsearch.train.tasks import get_task


@pytest.fixture
def batch():
    return make_batch()


@pytest.fixture
def make_objective():
    """Factory: a tiny DMDObjective without dropout; keyword overrides go to the YAML-style config."""
    def make(task="regression", seed=0, **cfg):
        torch.manual_seed(seed)
        return build_dmd_objective({**TINY, **NO_DROPOUT, **cfg}, dims=DIMS, lengths=LENGTHS, task=get_task(task))
    return make
