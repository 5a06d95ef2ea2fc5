"""Reconstruction, cycle and orthogonality terms: zero where they should be, right sign, variants."""

import pytest
import torch

from kdsearch.dmd import cycle_loss, orthogonality_loss, reconstruction_loss
from kdsearch.models.options import InvalidOption

STREAMS = ("L", "A", "V")


def features(seed, shape=(3, 4, 6)):
    gen = torch.Generator().manual_seed(seed)
    return {m: torch.randn(*shape, generator=gen) for m in STREAMS}


def test_reconstruction_and_cycle_are_zero_for_perfect_copies_and_positive_otherwise():
    origin, other = features(0), features(1)
    assert reconstruction_loss(origin, origin).item() == 0.0
    assert cycle_loss(origin, {m: x.clone() for m, x in origin.items()}).item() == 0.0
    expected = sum(((other[m] - origin[m]) ** 2).mean() for m in STREAMS)
    assert torch.isclose(reconstruction_loss(origin, other), expected)
    assert cycle_loss(origin, other).item() > 0


def orthogonal_pair(shape=(3, 4, 6)):
    """com along feature 0, prt along feature 1 at every (b, t): orthogonal per feature vector."""
    com, prt = torch.zeros(shape), torch.zeros(shape)
    com[..., 0] = torch.rand(shape[:2]) + 0.5
    prt[..., 1] = torch.rand(shape[:2]) + 0.5
    return {m: com for m in STREAMS}, {m: prt for m in STREAMS}


@pytest.mark.parametrize("variant", ["paper", "code"])
@pytest.mark.parametrize("axis", ["feature", "batch", "sample"])
def test_orthogonal_features_cost_nothing(variant, axis):
    com, prt = orthogonal_pair()
    assert orthogonality_loss(com, prt, variant=variant, axis=axis).abs().item() < 1e-6


def test_parallel_features_cost_one_per_modality_in_both_variants():
    com = features(2)
    for variant in ("paper", "code"):
        assert torch.isclose(orthogonality_loss(com, com, variant=variant), torch.tensor(3.0), atol=1e-5)


def test_paper_cosine_goes_negative_for_antiparallel_code_hinge_stops_at_zero():
    com = features(3)
    anti = {m: -x for m, x in com.items()}
    assert torch.isclose(orthogonality_loss(com, anti, variant="paper"), torch.tensor(-3.0), atol=1e-5)
    assert orthogonality_loss(com, anti, variant="code").item() == 0.0


def test_batch_axis_reproduces_the_torch_1_9_cosine_over_the_batch():
    com, prt = features(4), features(5)
    loss = orthogonality_loss(com, prt, variant="code", axis="batch")
    expected = 0.0
    for m in STREAMS:  # the code's (T', B, d) tensors, cosine along dim 1 = the batch
        a, b = com[m].transpose(0, 1), prt[m].transpose(0, 1)
        cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
        expected = expected + cos.clamp_min(0).mean()
    assert torch.isclose(loss, expected, atol=1e-6)
    assert not torch.isclose(loss, orthogonality_loss(com, prt, variant="code", axis="feature"))


def test_unknown_variant_names_the_option():
    com = features(6)
    with pytest.raises(InvalidOption) as err:
        orthogonality_loss(com, com, axis="time")
    assert err.value.option == "ort_axis"
