"""MulTTeacher: shapes per branch, pair naming, maps only where asked, parameter counts."""

import pytest
import torch

from kdsearch.models import BRANCH_PAIRS, MulTTeacher, count_parameters

MOSEI_DIMS = {"text": 300, "audio": 74, "vision": 35}
MOSEI_LENGTHS = {"text": 50, "audio": 500, "vision": 500}
EXPECTED_NAMES = {
    "complete": ("A<-L", "V<-L", "L<-A", "V<-A", "L<-V", "A<-V", "mem_L", "mem_A", "mem_V"),
    "video": ("L<-V", "A<-V", "mem_V"),
    "audio": ("L<-A", "V<-A", "mem_A"),
    "language": ("A<-L", "V<-L", "mem_L"),
}


@pytest.mark.parametrize("branch", sorted(BRANCH_PAIRS))
@pytest.mark.parametrize("n_out", [7, 1])
def test_output_shapes_per_branch(branch, n_out, batch, make_teacher):
    teacher = make_teacher(branch, n_out)
    out = teacher(*batch)
    width = (6 if branch == "complete" else 2) * 8
    assert out.logits.shape == (2, n_out)
    assert out.features["final"] is out.logits
    assert out.features["penultimate"].shape == (2, width)
    assert teacher.pair_names == EXPECTED_NAMES[branch]
    assert out.attn_scores == {} and out.post_attention == {}


def test_branch_builds_only_the_encoders_it_uses(make_teacher):
    assert set(make_teacher("video").body.encoders) == set(EXPECTED_NAMES["video"])


def test_map_shapes_follow_query_then_key_lengths(make_teacher):
    teacher = make_teacher()
    assert teacher.map_shape("V<-L") == (4, 12)  # q = L (4), kv = V (12)
    assert teacher.map_shape("L<-A") == (12, 4)
    assert teacher.map_shape("mem_L") == (4, 4)


def test_maps_and_post_attention_only_for_requested_pairs(batch, make_teacher):
    teacher = make_teacher().eval()
    out = teacher(*batch, maps_for=frozenset({"V<-L", "mem_A"}), post_attention_for=frozenset({"A<-V"}))
    assert set(out.attn_scores) == {"V<-L", "mem_A"}
    assert set(out.post_attention) == {"A<-V"}
    assert [s.shape for s in out.attn_scores["V<-L"]] == [(2, 2, 4, 12)]
    assert len(out.attn_scores["mem_A"]) == 3  # mem depth is max(layers, 3)
    assert out.attn_scores["mem_A"][0].shape == (2, 2, 12, 12)
    assert out.post_attention["A<-V"][0].shape == (2, 12, 8)
    assert out.attn_mask["V<-L"].shape == (4, 12)
    # Asking for maps must not change the result (explicit path == fused path).
    assert torch.allclose(out.logits, teacher(*batch).logits, atol=1e-5)


def test_unknown_pair_is_refused_with_the_known_names(batch, make_teacher):
    with pytest.raises(ValueError, match="mem_A"):
        make_teacher("audio")(*batch, maps_for=frozenset({"V<-L"}))


def test_same_padding_keeps_lengths(batch, make_teacher, shapes):
    teacher = make_teacher(conv_kernel=3)
    for name, x in zip(("text", "audio", "vision"), batch):
        assert teacher.projections[name](x.transpose(1, 2)).shape[-1] == shapes.lengths[name]


@pytest.mark.parametrize("branch,n_out,expected", [
    ("complete", 1, 1_073_731), ("complete", 7, 1_074_817), ("video", 1, 351_691)])
def test_parameter_counts_match_mult_repo_defaults(branch, n_out, expected):
    # docs/methods.md §2.3: MulT repo defaults (d=30, 5 heads, 5 layers, kernel 1) on MOSEI shapes.
    teacher = MulTTeacher(dims=MOSEI_DIMS, lengths=MOSEI_LENGTHS, n_out=n_out, branch=branch, conv_kernel=1)
    assert count_parameters(teacher) == expected


def test_bad_options_raise_value_errors(make_teacher):
    with pytest.raises(ValueError, match="branch"):
        make_teacher("visual")
    with pytest.raises(ValueError, match="divisible"):
        make_teacher(d_model=10, heads=4)
