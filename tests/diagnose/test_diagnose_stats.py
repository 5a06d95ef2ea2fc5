"""The pure statistics on hand-made maps: uniform, one-hot, masked, events."""

import math

import pytest
import torch

from kdsearch.diagnose import stats
from kdsearch.models.masks import mult_mask_rule


def uniform_rows(allowed: torch.Tensor) -> torch.Tensor:
    ok = allowed.float()
    return ok / ok.sum(dim=-1, keepdim=True)


def test_uniform_rows_have_maximal_entropy_and_zero_kl():
    p = torch.full((3, 5, 10), 0.1)
    assert torch.allclose(stats.row_entropy(p), torch.full((3, 5), math.log(10)))
    assert torch.allclose(stats.normalised_entropy(p), torch.ones(3, 5))
    assert torch.allclose(stats.concentration(p), torch.zeros(3, 5), atol=1e-6)
    assert torch.allclose(stats.kl_from_uniform(p), torch.zeros(3, 5), atol=1e-6)


def test_one_hot_rows_have_zero_entropy_and_kl_log_n():
    p = torch.nn.functional.one_hot(torch.tensor([[0, 3, 9], [5, 5, 1]]), 10).float()
    assert torch.equal(stats.row_entropy(p), torch.zeros(2, 3))  # exactly: 0 log 0 = 1 log 1 = 0
    assert torch.equal(stats.normalised_entropy(p), torch.zeros(2, 3))
    assert torch.allclose(stats.concentration(p), torch.ones(2, 3))
    assert torch.allclose(stats.kl_from_uniform(p), torch.full((2, 3), math.log(10)))


def test_entropy_of_a_two_key_split_is_between():
    p = torch.tensor([[0.5, 0.5, 0.0, 0.0]])
    assert stats.row_entropy(p).item() == pytest.approx(math.log(2))
    assert stats.normalised_entropy(p).item() == pytest.approx(0.5)  # log 2 / log 4


def test_masked_keys_normalise_by_allowed_count_and_forced_rows_are_nan():
    allowed = mult_mask_rule(5, 5)  # square: row i sees keys 0..i, row 0 only key 0
    p = uniform_rows(allowed)
    ne = stats.normalised_entropy(p, allowed)
    assert math.isnan(ne[0].item())  # a single allowed key: no choice to measure
    assert torch.allclose(ne[1:], torch.ones(4))  # uniform over the allowed keys is maximal
    assert torch.allclose(stats.kl_from_uniform(p, allowed), torch.zeros(5), atol=1e-6)
    assert stats.forced_rows(p, allowed).tolist() == [True, False, False, False, False]
    # One-hot on an allowed key is still entropy 0 and KL log(n_allowed).
    one_hot = torch.zeros(5, 5)
    one_hot[torch.arange(5), torch.arange(5)] = 1.0
    assert torch.allclose(stats.kl_from_uniform(one_hot, allowed), torch.log(torch.arange(1, 6).float()))


def test_probabilities_give_exact_zero_on_masked_keys():
    scores = torch.tensor([[1.0, 2.0, float("-inf")]])
    p = stats.probabilities(scores)
    assert p[0, 2].item() == 0.0
    assert p.sum().item() == pytest.approx(1.0)
    assert stats.probabilities(scores, temperature=1e6)[0, :2].tolist() == pytest.approx([0.5, 0.5], abs=1e-5)


def test_event_mass_on_a_hand_made_map():
    # Two samples, 2 query rows, 8 keys; sample 0's events at keys 1 and 6, sample 1's at 0 and 7.
    p = torch.zeros(2, 2, 8)
    p[0, 0, 1], p[0, 0, 6], p[0, 0, 3] = 0.5, 0.25, 0.25   # 0.75 on events
    p[0, 1] = 1 / 8                                         # uniform: 2/8 on events
    p[1, 0, 7] = 1.0                                        # all on an event
    p[1, 1, 3] = 1.0                                        # none
    events = torch.tensor([[1, 6], [0, 7]])
    assert torch.allclose(stats.event_mass(p, events), torch.tensor([[0.75, 0.25], [1.0, 0.0]]))
    assert torch.allclose(stats.event_uniform_share(p, events), torch.full((2, 2), 2 / 8))


def test_event_mass_with_heads_and_mask():
    allowed = mult_mask_rule(4, 4)
    p = uniform_rows(allowed).expand(1, 3, 4, 4)  # (B, H, T_q, T_k)
    events = torch.tensor([[2, 3]])
    mass = stats.event_mass(p, events)
    # Row i is uniform over keys 0..i: events 2, 3 visible from row 2 (1 of 3) and row 3 (2 of 4).
    assert mass.shape == (1, 3, 4)
    assert mass[0, 0].tolist() == pytest.approx([0.0, 0.0, 1 / 3, 0.5])
    # For uniform rows the uniform share *is* the mass.
    assert torch.allclose(stats.event_uniform_share(p, events, allowed), mass)


def test_event_steps_outside_the_keys_are_ignored():
    marks = stats.event_indicator(torch.tensor([[1, 9], [-1, 2]]), 4)
    assert marks.tolist() == [[0, 1, 0, 0], [0, 0, 1, 0]]


def test_near_event_window_catches_a_map_one_step_early():
    # Kernel-3 convs: step e-1 already holds event e, and a trained map may look there.
    events = torch.tensor([[3, 6]])
    near = stats.near_event_indicator(events, 8)
    assert near.tolist() == [[0, 0, 1, 1, 1, 1, 1, 1]]  # windows 2-4 and 5-7, overlapping edges merged
    assert stats.near_event_indicator(torch.tensor([[0]]), 3).tolist() == [[1, 1, 0]]  # clipped at the edge
    p = torch.zeros(1, 1, 8)
    p[0, 0, 2], p[0, 0, 5] = 0.5, 0.5  # all mass one step before each event
    assert stats.event_mass(p, events).item() == 0.0
    assert stats.marked_mass(p, near).item() == pytest.approx(1.0)
    assert stats.marked_uniform_share(p, near).item() == pytest.approx(6 / 8)


def test_top_k_mass_and_profiles():
    p = torch.tensor([[0.6, 0.3, 0.1, 0.0], [0.25, 0.25, 0.25, 0.25]])
    assert stats.top_k_mass(p, 2).tolist() == pytest.approx([0.9, 0.5])
    assert stats.top_k_mass(p, 99).tolist() == pytest.approx([1.0, 1.0])
    assert stats.mass_profile(p).tolist() == pytest.approx([0.425, 0.275, 0.175, 0.125])
    # Uniform attention under a causal-like mask favours early keys; the reference says by how much.
    allowed = mult_mask_rule(2, 2)
    assert stats.uniform_profile(allowed, 2, 2).tolist() == pytest.approx([0.75, 0.25])
    assert stats.uniform_profile(None, 2, 4).tolist() == pytest.approx([0.25] * 4)
