"""Margin loss (paper eq. 4 triplets and the code's label-adaptive hinge)."""

import pytest
import torch

from kdsearch.dmd import margin_loss

LABEL = torch.tensor([-2.0, -2.0, 1.0, 1.0])  # two classes, two samples each


def class_aligned_features(label):
    """Every vector of class c is the unit vector e_c, whatever its modality: positives have
    cosine 1, negatives cosine 0, so positives are closer than negatives by 1 > any margin used."""
    classes = torch.round(label).long()
    index = {c: k for k, c in enumerate(sorted(set(classes.tolist())))}
    base = torch.zeros(len(label), 4)
    base[torch.arange(len(label)), torch.tensor([index[c] for c in classes.tolist()])] = 1.0
    return {m: base.clone() for m in ("L", "A", "V")}


@pytest.mark.parametrize("variant", ["paper", "code"])
def test_zero_when_positives_are_closer_by_the_margin(variant):
    loss = margin_loss(class_aligned_features(LABEL), LABEL, variant=variant, alpha=0.5)
    assert loss.item() == 0.0


@pytest.mark.parametrize("variant", ["paper", "code"])
def test_positive_when_classes_are_swapped(variant):
    feats = class_aligned_features(LABEL)
    feats["A"] = feats["A"].flip(0)  # modality A now looks like the other class
    loss = margin_loss(feats, LABEL, variant=variant, alpha=0.5)
    assert loss.item() > 0 and torch.isfinite(loss)


def test_paper_value_on_a_hand_counted_batch():
    # B=2, one sample per class; all vectors identical: every cosine is 1, each triplet costs alpha.
    feats = {m: torch.ones(2, 3) for m in ("L", "A", "V")}
    loss = margin_loss(feats, torch.tensor([-1.0, 1.0]), variant="paper", alpha=0.3)
    assert torch.isclose(loss, torch.tensor(0.3))


def test_code_margin_grows_with_the_label_distance():
    feats = {m: torch.ones(2, 3) for m in ("L", "A", "V")}  # every cosine 1: loss = margin
    near = margin_loss(feats, torch.tensor([0.0, 1.0]), variant="code")
    far = margin_loss(feats, torch.tensor([0.0, 3.0]), variant="code")
    assert torch.isclose(near, torch.tensor(0.15)) and torch.isclose(far, torch.tensor(0.45))


@pytest.mark.parametrize("variant", ["paper", "code"])
def test_no_triplet_gives_zero_with_a_gradient_path(variant):
    feats = {m: torch.randn(3, 4, requires_grad=True) for m in ("L", "A", "V")}
    loss = margin_loss(feats, torch.zeros(3), variant=variant)  # one class: no negatives
    assert loss.item() == 0.0
    loss.backward()  # must not raise


def test_gradient_reaches_every_modality():
    feats = {m: torch.randn(4, 5, requires_grad=True) for m in ("L", "A", "V")}
    margin_loss(feats, LABEL, variant="paper", alpha=2.0).backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in feats.values())
