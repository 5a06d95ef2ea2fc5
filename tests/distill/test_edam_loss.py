"""EDAM on hand-made score tensors: masking, direction, temperature, sizes, layer pairing."""

import math

import pytest
import torch

from kdsearch.distill import build_loss
from kdsearch.models.masks import attention_mask
from kdsearch.models.output import ModelOutput


def output(layers_by_pair):
    return ModelOutput(logits=torch.zeros(1, 7), attn_scores=layers_by_pair)


def masked_scores(b=2, h=2, t_q=4, t_k=10, seed=0, requires_grad=False):
    scores = torch.randn(b, h, t_q, t_k, generator=torch.Generator().manual_seed(seed))
    scores = scores.masked_fill(~attention_mask(t_q, t_k), float("-inf"))
    return scores.requires_grad_(requires_grad)


def edam(**options):
    return build_loss("edam", pairs={"V<-L": "V<-L"}, **options)


@pytest.mark.parametrize("direction", ["teacher_to_student", "paper"])
@pytest.mark.parametrize("heads", ["average", "per_head"])
def test_masked_maps_give_finite_value_and_gradient(direction, heads):
    student = masked_scores(seed=1, requires_grad=True)
    teacher = masked_scores(seed=2)
    loss = edam(direction=direction, heads=heads)(output({"V<-L": [student]}), output({"V<-L": [teacher]}), {})
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(student.grad).all()
    assert torch.count_nonzero(student.grad[..., ~attention_mask(4, 10)]) == 0  # masked keys get nothing


def test_golden_value_against_hand_computation():
    student = torch.tensor([[[[0.0, 1.0, float("-inf")]]]])  # B=1, H=1, one row, key 2 masked
    teacher = torch.tensor([[[[2.0, 0.0, float("-inf")]]]])
    s = torch.softmax(torch.tensor([0.0, 1.0]), 0)
    t = torch.softmax(torch.tensor([2.0, 0.0]), 0)
    expected_t2s = -(t * s.log()).sum()
    expected_paper = -(s * t.log()).sum()
    s_out, t_out = output({"V<-L": [student]}), output({"V<-L": [teacher]})
    assert math.isclose(edam()(s_out, t_out, {}).item(), expected_t2s.item(), rel_tol=1e-6)
    assert math.isclose(edam(direction="paper")(s_out, t_out, {}).item(), expected_paper.item(), rel_tol=1e-6)


def test_matching_maps_beat_other_maps_in_the_usual_direction():
    loss_fn = edam()
    teacher = masked_scores(seed=3)
    same = loss_fn(output({"V<-L": [teacher.clone()]}), output({"V<-L": [teacher]}), {})
    for seed in range(4, 9):
        other = loss_fn(output({"V<-L": [masked_scores(seed=seed)]}), output({"V<-L": [teacher]}), {})
        assert same < other


def test_paper_direction_differs_and_prefers_the_teacher_argmax():
    teacher = masked_scores(seed=5)
    t_out = output({"V<-L": [teacher]})
    usual, paper = edam(), edam(direction="paper")
    copy = output({"V<-L": [teacher.clone()]})
    assert torch.isclose(usual(copy, t_out, {}), paper(copy, t_out, {}))  # both are the entropy there
    other = output({"V<-L": [masked_scores(seed=12)]})
    assert not torch.isclose(usual(other, t_out, {}), paper(other, t_out, {}))
    # Linear in the student: a one-hot on each row's teacher argmax beats copying the teacher.
    peaked = torch.full_like(teacher, -30.0)
    peaked.scatter_(-1, teacher.argmax(-1, keepdim=True), 30.0)
    peaked = peaked.masked_fill(torch.isinf(teacher), float("-inf"))
    assert paper(output({"V<-L": [peaked]}), t_out, {}) < paper(copy, t_out, {})


def test_temperature_changes_the_value():
    s_out, t_out = output({"V<-L": [masked_scores(seed=6)]}), output({"V<-L": [masked_scores(seed=7)]})
    assert not torch.isclose(edam(temperature=1.0)(s_out, t_out, {}), edam(temperature=3.0)(s_out, t_out, {}))


def test_average_and_per_head_agree_with_one_head():
    s_out = output({"V<-L": [masked_scores(h=1, seed=8)]})
    t_out = output({"V<-L": [masked_scores(h=1, seed=9)]})
    assert torch.isclose(edam(heads="average")(s_out, t_out, {}), edam(heads="per_head")(s_out, t_out, {}))


def test_head_average_is_the_mean_of_probabilities():
    student, teacher = masked_scores(seed=10), masked_scores(seed=11)
    loss = edam(heads="average")(output({"V<-L": [student]}), output({"V<-L": [teacher]}), {})
    s_avg = torch.softmax(student, -1).mean(1)
    t_avg = torch.softmax(teacher, -1).mean(1)
    allowed = attention_mask(4, 10)
    expected = -(t_avg * torch.where(allowed, s_avg.clamp_min(1e-30).log(), 0.0)).sum(-1).mean()
    assert torch.isclose(loss, expected, atol=1e-6)


def test_size_mismatch_lists_both_sizes():
    s_out = output({"V<-L": [masked_scores(t_q=4, t_k=10)]})
    t_out = output({"V<-L": [masked_scores(t_q=4, t_k=12)]})
    with pytest.raises(ValueError, match=r"\(2, 4, 10\).*\(2, 4, 12\)"):
        edam()(s_out, t_out, {})


def test_per_head_needs_equal_head_counts():
    s_out = output({"V<-L": [masked_scores(h=2)]})
    t_out = output({"V<-L": [masked_scores(h=3)]})
    with pytest.raises(ValueError, match="head counts"):
        edam(heads="per_head")(s_out, t_out, {})
    assert torch.isfinite(edam(heads="average")(s_out, t_out, {}))


def test_student_layer_i_pairs_with_teacher_layer_floor_i_lt_over_ls():
    teacher_layers = [masked_scores(seed=s) for s in (20, 21, 22, 23)]
    student_layers = [masked_scores(seed=30), masked_scores(seed=31)]
    loss_fn = edam()
    got = loss_fn(output({"V<-L": student_layers}), output({"V<-L": teacher_layers}), {})
    single = [loss_fn(output({"V<-L": [s]}), output({"V<-L": [teacher_layers[t]]}), {})
              for s, t in zip(student_layers, (0, 2))]
    assert torch.isclose(got, torch.stack(single).mean())


def test_mean_over_pairs_and_mapping_by_name():
    a, b = masked_scores(seed=40), masked_scores(seed=41)
    loss_fn = build_loss("edam", pairs={"V<-L": "V<-A", "V<-A": "V<-L"})
    # Student "V<-L" is distilled from teacher "V<-A" and vice versa: pairing is by name only.
    both = loss_fn(output({"V<-L": [a], "V<-A": [b]}), output({"V<-A": [a], "V<-L": [b]}), {})
    identity = edam()(output({"V<-L": [a]}), output({"V<-L": [a]}), {})
    other = edam()(output({"V<-L": [b]}), output({"V<-L": [b]}), {})
    assert torch.isclose(both, (identity + other) / 2)


def test_missing_maps_say_what_to_compute():
    with pytest.raises(KeyError, match="maps_for"):
        edam()(output({}), output({"V<-L": [masked_scores()]}), {})


@pytest.mark.parametrize("heads", ["average", "per_head"])
def test_student_gradient_is_the_full_cross_entropy_gradient_even_far_below_1e_8(heads):
    """Student probability of key 1 is e^-30 ~ 1e-13: a floor on log s at log(1e-8) would cut
    that key's term from the gradient. The gradient of -sum t log softmax(z) is softmax(z) - t."""
    student = torch.tensor([[[[30.0, 0.0]]]], requires_grad=True)  # B=1, H=1, one row of 2 keys
    teacher = torch.tensor([[[[0.0, 0.0]]]])  # uniform: t = (0.5, 0.5)
    loss = edam(heads=heads)(output({"V<-L": [student]}), output({"V<-L": [teacher]}), {})
    loss.backward()
    expected = torch.softmax(student.detach(), dim=-1) - 0.5  # ~(+0.5, -0.5)
    assert torch.allclose(student.grad, expected, atol=1e-6)
    assert loss.item() == pytest.approx(0.5 * 30.0 + math.log1p(math.exp(-30.0)), rel=1e-6)  # -0.5 log s0 - 0.5 log s1


@pytest.mark.parametrize("heads", ["average", "per_head"])
def test_allowed_keys_are_exactly_the_finite_scores_even_with_nan_and_inf(heads):
    """The map's mask is computed without torch.isfinite (fewer passes); it must mean the same."""
    from kdsearch.distill.edam import log_attention_maps

    scores = masked_scores(b=3, h=3, t_q=6, t_k=10)
    scores[0, 1, 2, 9] = float("nan")
    scores[1, 2, 5, 0] = float("inf")
    _, allowed = log_attention_maps(scores, 1.0, heads)
    expected = torch.isfinite(scores)
    assert torch.equal(allowed, expected.all(dim=1) if heads == "average" else expected)


def test_temperature_one_skips_the_division_without_changing_a_bit():
    from kdsearch.distill.edam import log_attention_maps

    scores = masked_scores(b=4, h=3, t_q=8, t_k=10, seed=3) * 7.3
    divided = log_attention_maps(scores / 1.0001, 1.0, "average")[0]
    assert torch.equal(log_attention_maps(scores, 1, "average")[0], log_attention_maps(scores, 1.0, "average")[0])
    assert torch.equal(log_attention_maps(scores, torch.tensor(1.0), "average")[0],
                       log_attention_maps(scores, 1.0, "average")[0])
    assert not torch.equal(divided, log_attention_maps(scores, 1.0, "average")[0])
