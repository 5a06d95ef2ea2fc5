"""Tiny shapes and model factories shared by the model tests (seconds on a 2-core CPU)."""

from types import SimpleNamespace

import pytest
import torch

from kdsearch.models import MulTTeacher, VideoStudent

DIMS = {"text": 20, "audio": 10, "vision": 7}
LENGTHS = {"text": 4, "audio": 12, "vision": 12}
TINY = {"d_model": 8, "heads": 2, "layers": 1}


@pytest.fixture
def shapes():
    """The tiny sizes: dims, lengths, and the encoder shape `tiny` (d=8, 2 heads, 1 layer)."""
    return SimpleNamespace(dims=dict(DIMS), lengths=dict(LENGTHS), tiny=dict(TINY))


@pytest.fixture
def batch():
    """Random (text, audio, vision) features for B=2."""
    gen = torch.Generator().manual_seed(0)
    return tuple(torch.randn(2, LENGTHS[m], DIMS[m], generator=gen) for m in ("text", "audio", "vision"))


@pytest.fixture
def make_teacher():
    """Factory: a tiny MulTTeacher; keyword overrides go to the constructor."""
    def make(branch="complete", n_out=7, **kw):
        return MulTTeacher(dims=DIMS, lengths=LENGTHS, n_out=n_out, branch=branch, **{**TINY, **kw})
    return make


@pytest.fixture
def make_student():
    """Factory: a tiny VideoStudent; keyword overrides go to the constructor."""
    def make(config=5, n_out=7, **kw):
        return VideoStudent(vision_dim=DIMS["vision"], lengths=LENGTHS, n_out=n_out, config=config, **{**TINY, **kw})
    return make
