"""VideoStudent: the five configurations, alignment, gradients, and paper 000's parameter count."""

import pytest

from kdsearch.models import (
    DISTILLED_PAIRS,
    STUDENT_CONFIGS,
    TEACHER_BRANCH_FOR_CONFIG,
    VideoStudent,
    count_parameters,
)

EXPECTED_NAMES = {
    1: ("A<-L", "V<-L", "L<-A", "V<-A", "L<-V", "A<-V", "mem_L", "mem_A", "mem_V"),
    2: ("V<-V", "A<-V", "L<-V"),
    3: ("V<-V", "V<-L", "A<-L"),
    4: ("V<-V", "V<-A", "L<-A"),
    5: ("V<-V", "V<-L", "V<-A"),
}


@pytest.mark.parametrize("config", sorted(STUDENT_CONFIGS))
@pytest.mark.parametrize("align,downsample", [("student_down", "valid_conv"), ("student_down", "pool"),
                                              ("none", "valid_conv")])
def test_output_shapes_and_pair_names(config, align, downsample, batch, make_student):
    student = make_student(config, align=align, downsample=downsample)
    out = student(batch[2])
    width = (6 if config == 1 else 3) * 8
    assert out.logits.shape == (2, 7)
    assert out.features["penultimate"].shape == (2, width)
    assert student.pair_names == EXPECTED_NAMES[config]


@pytest.mark.parametrize("config", sorted(STUDENT_CONFIGS))
def test_student_down_maps_match_the_teacher_maps_they_distil(config, batch, make_student, make_teacher):
    student = make_student(config).eval()
    teacher = make_teacher(TEACHER_BRANCH_FOR_CONFIG[config]).eval()
    pairs = DISTILLED_PAIRS[config]
    s_out = student(batch[2], maps_for=frozenset(pairs))
    t_out = teacher(*batch, maps_for=frozenset(pairs.values()))
    for s_pair, t_pair in pairs.items():
        assert student.map_shape(s_pair) == teacher.map_shape(t_pair)
        assert s_out.attn_scores[s_pair][0].shape == t_out.attn_scores[t_pair][0].shape
    assert set(s_out.attn_scores) == set(pairs)  # nothing computed beyond what was asked


def test_align_none_keeps_every_proxy_at_video_length(make_student):
    student = make_student(5, align="none")
    assert student.map_shape("V<-L") == (12, 12)
    assert student.map_shape("V<-A") == (12, 12)


def test_valid_conv_downsamples_language_proxy(batch, make_student):
    conv = make_student(5).projections["L"]
    assert conv.kernel_size == (12 - 4 + 1,)  # T_v - T_l + 1
    assert conv(batch[2].transpose(1, 2)).shape[-1] == 4


def test_valid_conv_cannot_lengthen_video():
    longer_audio = {"text": 4, "audio": 20, "vision": 12}
    with pytest.raises(ValueError, match="pool"):
        VideoStudent(vision_dim=7, lengths=longer_audio, n_out=7, d_model=8, heads=2, layers=1)
    student = VideoStudent(vision_dim=7, lengths=longer_audio, n_out=7, downsample="pool", d_model=8, heads=2, layers=1)
    assert student.map_shape("V<-A") == (20, 12)


@pytest.mark.parametrize("config", sorted(STUDENT_CONFIGS))
def test_gradient_reaches_every_student_parameter(config, batch, make_student):
    student = make_student(config)
    student(batch[2]).logits.square().sum().backward()
    missing = [name for name, p in student.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_paper_000_student_count_parameters():
    # docs/methods.md §3.3: d=30, 5 layers, config 5, 451-tap valid conv for 500 -> 50, 7-way head.
    student = VideoStudent(vision_dim=35, lengths={"text": 50, "audio": 500, "vision": 500}, n_out=7)
    assert count_parameters(student) == 664_897


def test_bad_config_is_refused(make_student):
    with pytest.raises(ValueError, match="config"):
        make_student(6)
