"""GD-Unit: softmax-normalised edges, ||W ⊙ E||_1, the code's priors, the 3x3 edge matrix."""

import torch

from kdsearch.dmd import EDGES, GDUnit, code_prior, edge_matrix

STREAMS = ("L", "A", "V")


def nodes(batch=5, n_out=1, width=8, seed=0, requires_grad=False):
    gen = torch.Generator().manual_seed(seed)
    logits = {m: torch.randn(batch, n_out, generator=gen).requires_grad_(requires_grad) for m in STREAMS}
    reprs = {m: torch.randn(batch, width, generator=gen) for m in STREAMS}
    return logits, reprs


def test_edges_are_the_six_directed_pairs():
    assert len(EDGES) == 6 and len(set(EDGES)) == 6 and all(i != j for i, j in EDGES)


def test_edge_weights_of_each_sample_sum_to_one():
    torch.manual_seed(0)
    unit = GDUnit(repr_dim=8, n_out=1, hidden=4)
    weights = unit(*nodes()).weights
    assert weights.shape == (5, 6) and (weights > 0).all()
    assert torch.allclose(weights.sum(dim=1), torch.ones(5))
    matrix = edge_matrix(weights)
    assert matrix.shape == (3, 3) and torch.isclose(matrix.sum(), torch.tensor(1.0))
    assert (matrix.diagonal() == 0).all()


def test_paper_loss_is_the_weighted_l1_logit_gap():
    torch.manual_seed(0)
    unit = GDUnit(repr_dim=8, n_out=3, hidden=4)
    logits, reprs = nodes(n_out=3)
    result = unit(logits, reprs)
    expected = sum((result.weights[:, x] * (logits[j] - logits[i]).abs().sum(-1)).mean()
                   for x, (i, j) in enumerate(EDGES))
    assert torch.isclose(result.loss, expected) and result.loss > 0
    assert result.reg == 0 and result.repr == 0


def test_no_distillation_when_all_modalities_agree():
    unit = GDUnit(repr_dim=8, n_out=1, hidden=4)
    logits, reprs = nodes()
    same = {m: logits["L"] for m in STREAMS}
    assert unit(same, reprs).loss.item() == 0.0


def test_teacher_side_is_stop_gradient():
    # Edges blind to the logits (zero logit embedding), so the only path to a logit is E itself.
    unit = GDUnit(repr_dim=8, n_out=1, hidden=4)
    torch.nn.init.zeros_(unit.logit_embed.weight)
    logits = {m: torch.zeros(4, 1) for m in STREAMS}
    logits["L"] = torch.full((4, 1), 2.0, requires_grad=True)
    result = unit(logits, nodes(batch=4)[1])
    result.loss.backward()
    weights = result.weights.detach()
    # Only the edges *into* L (L the student) move L; edges L -> X use L as a constant target.
    into_l = [x for x, (i, j) in enumerate(EDGES) if j == "L"]
    assert torch.allclose(logits["L"].grad, weights[:, into_l].sum(1, keepdim=True) / 4)


def test_code_priors_match_the_published_values():
    homo, hetero = code_prior("homo"), code_prior("hetero")
    strong = {EDGES[x] for x in range(6) if homo[x] > 0.1}
    assert strong == {("L", "V"), ("L", "A")}
    assert torch.isclose(homo.max(), torch.tensor(0.48233), atol=1e-5)
    assert torch.isclose(homo.min(), torch.tensor(0.00883), atol=1e-5)
    assert {EDGES[x] for x in range(6) if hetero[x] > 0.1} == {("L", "V"), ("L", "A"), ("V", "A")}
    assert torch.isclose(hetero.max(), torch.tensor(0.32734), atol=1e-5)


def test_priors_add_a_nonnegative_regulariser_and_shift_the_weights():
    torch.manual_seed(0)
    plain = GDUnit(repr_dim=8, n_out=1, hidden=4)
    torch.manual_seed(0)
    with_prior = GDUnit(repr_dim=8, n_out=1, hidden=4, prior=code_prior("homo"), prior_reg=10.0)
    logits, reprs = nodes()
    a, b = plain(logits, reprs), with_prior(logits, reprs)
    assert torch.allclose(a.weights, b.weights)  # same edge MLP, same learned weights
    expected_reg = 10.0 * ((b.weights.mean(0) - code_prior("homo")) ** 2).sum()
    assert torch.isclose(b.reg, expected_reg) and b.reg > 0
    assert b.logit > a.logit  # (W + prior) weighs every gap more


def test_code_repr_term_penalises_positive_cosine_only():
    unit = GDUnit(repr_dim=8, n_out=1, hidden=4, repr_weight=10.0)
    logits, reprs = nodes()
    same = {m: reprs["L"] for m in STREAMS}
    assert torch.isclose(unit(logits, same).repr, torch.tensor(10.0), atol=1e-4)  # cos 1, weights sum 1
    opposite = {"L": reprs["L"], "A": -reprs["L"], "V": reprs["L"] * 0 + 1e-3 * torch.randn(5, 8)}
    assert unit(logits, opposite).repr < unit(logits, same).repr
