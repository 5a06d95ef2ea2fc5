"""Tiny shapes shared by the benchmark tests (seconds on a 2-core CPU)."""

import pytest
import torch

from kdsearch.bench.steps import Shapes


@pytest.fixture
def tiny_shapes():
    """Small feature widths and lengths, with a cross-modal mask that really masks (T_l < T_a)."""
    return Shapes(preset="tiny", dims={"text": 12, "audio": 6, "vision": 5},
                  lengths={"text": 4, "audio": 10, "vision": 10}, n_train=50)


@pytest.fixture
def cpu():
    return torch.device("cpu")
