"""Tiny shapes shared by the model tests (seconds on a 2-core CPU)."""

import pytest
import torch

DIMS = {"text": 20, "audio": 10, "vision": 7}
LENGTHS = {"text": 4, "audio": 12, "vision": 12}
TINY = {"d_model": 8, "heads": 2, "layers": 1}


@pytest.fixture
def batch():
    """Random (text, audio, vision) features for B=2."""
    gen = torch.Generator().manual_seed(0)
    return tuple(torch.randn(2, LENGTHS[m], DIMS[m], generator=gen) for m in ("text", "audio", "vision"))
