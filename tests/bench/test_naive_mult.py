"""The naive reference is the same architecture as MulTTeacher: same parameters, same function."""

import pytest
import torch

from kdsearch.bench.naive_mult import NaiveMulT, naive_future_mask
from kdsearch.models import MulTTeacher, count_parameters
from kdsearch.models.masks import mult_mask_rule

DIMS = {"text": 12, "audio": 6, "vision": 5}
LENGTHS = {"text": 4, "audio": 10, "vision": 7}


def _pair(branch, **kw):
    cfg = dict(dims=DIMS, lengths=LENGTHS, n_out=7, branch=branch, d_model=8, heads=2, layers=2, **kw)
    return MulTTeacher(**cfg), NaiveMulT(**cfg)


@pytest.mark.parametrize("branch", ["complete", "video", "audio", "language"])
def test_same_parameter_count_and_names(branch):
    teacher, naive = _pair(branch)
    assert count_parameters(naive) == count_parameters(teacher)
    assert dict((k, v.shape) for k, v in naive.state_dict().items()) == \
        dict((k, v.shape) for k, v in teacher.state_dict().items())


def test_mult_repo_sizes_give_the_same_count_as_the_teacher():
    dims, lengths = {"text": 300, "audio": 74, "vision": 35}, {"text": 8, "audio": 32, "vision": 32}
    teacher = MulTTeacher(dims=dims, lengths=lengths, n_out=7)
    naive = NaiveMulT(dims=dims, lengths=lengths, n_out=7)
    assert count_parameters(naive) == count_parameters(teacher) > 1_000_000


@pytest.mark.parametrize("branch", ["complete", "language"])
def test_same_weights_compute_the_same_function(branch):
    torch.manual_seed(0)
    teacher, naive = _pair(branch)
    naive.load_state_dict(teacher.state_dict())  # strict: every name matches
    teacher.eval(), naive.eval()
    gen = torch.Generator().manual_seed(1)
    inputs = [torch.randn(3, LENGTHS[m], DIMS[m], generator=gen) for m in ("text", "audio", "vision")]
    inputs[1][:, :3] = 0.0  # left padding: no positional signal there in either implementation
    expected, got = teacher(*inputs), naive(*inputs)
    assert torch.allclose(got.logits, expected.logits, atol=1e-5)
    assert torch.allclose(got.features["penultimate"], expected.features["penultimate"], atol=1e-5)


def test_without_mask_the_functions_still_agree():
    torch.manual_seed(2)
    teacher, naive = _pair("complete", attn_mask=False)
    naive.load_state_dict(teacher.state_dict())
    inputs = [torch.randn(2, LENGTHS[m], DIMS[m]) for m in ("text", "audio", "vision")]
    assert torch.allclose(naive.eval()(*inputs).logits, teacher.eval()(*inputs).logits, atol=1e-5)


@pytest.mark.parametrize("t_q,t_k", [(4, 10), (10, 4), (6, 6), (7, 10)])
def test_naive_mask_is_mults_rule(t_q, t_k):
    mask = naive_future_mask(t_q, t_k, torch.device("cpu"))
    assert mask.dtype == torch.float32
    assert torch.equal(mask == 0, mult_mask_rule(t_q, t_k))
    assert torch.isneginf(mask[mask != 0]).all()


def test_gradients_reach_every_parameter():
    torch.manual_seed(3)
    _, naive = _pair("complete")
    inputs = [torch.randn(2, LENGTHS[m], DIMS[m]) for m in ("text", "audio", "vision")]
    out = naive.train()(*inputs)
    out.logits.sum().backward()
    assert all(p.grad is not None for p in naive.parameters())


def test_maps_are_refused():
    _, naive = _pair("complete")
    inputs = [torch.randn(1, LENGTHS[m], DIMS[m]) for m in ("text", "audio", "vision")]
    with pytest.raises(ValueError, match="maps"):
        naive(*inputs, maps_for=frozenset({"V<-A"}))
