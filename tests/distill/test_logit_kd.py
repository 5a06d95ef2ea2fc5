"""Logit KD: T^2-scaled KL for classes, MSE for one regression output."""

import math

import pytest
import torch
import torch.nn.functional as F

from kdsearch.distill import build_loss
from kdsearch.models.output import ModelOutput


def output(logits):
    return ModelOutput(logits=logits, features={"final": logits})


def test_matches_t_squared_kl_div():
    gen = torch.Generator().manual_seed(0)
    s, t = torch.randn(4, 7, generator=gen), torch.randn(4, 7, generator=gen)
    temperature = 4.0
    expected = F.kl_div(F.log_softmax(s / temperature, -1), F.log_softmax(t / temperature, -1),
                        reduction="batchmean", log_target=True) * temperature**2
    got = build_loss("logit", temperature=temperature)(output(s), output(t), {})
    assert math.isclose(got.item(), expected.item(), rel_tol=1e-5)


def test_zero_when_student_equals_teacher_and_temperature_matters():
    t = torch.randn(3, 7)
    assert build_loss("logit")(output(t.clone()), output(t), {}).abs() < 1e-6
    s = torch.randn(3, 7)
    assert not torch.isclose(build_loss("logit", temperature=1.0)(output(s), output(t), {}),
                             build_loss("logit", temperature=4.0)(output(s), output(t), {}))


def test_regression_output_uses_mse():
    s, t = torch.tensor([[0.5], [1.0]]), torch.tensor([[1.5], [1.0]])
    assert math.isclose(build_loss("logit")(output(s), output(t), {}).item(), 0.5)


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"\(2, 7\).*\(2, 1\)"):
        build_loss("logit")(output(torch.zeros(2, 7)), output(torch.zeros(2, 1)), {})
