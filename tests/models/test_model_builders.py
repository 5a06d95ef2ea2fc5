"""build_teacher / build_student: defaults, overrides, and errors naming the YAML key."""

import pytest

from kdsearch.errors import SpaceError
from kdsearch.models import STUDENT_DEFAULTS, TEACHER_DEFAULTS, build_student, build_teacher, count_parameters

DIMS = {"text": 20, "audio": 10, "vision": 7}
LENGTHS = {"text": 4, "audio": 12, "vision": 12}


def test_documented_defaults():
    assert TEACHER_DEFAULTS["branch"] == "complete" and TEACHER_DEFAULTS["d_model"] == 30
    assert TEACHER_DEFAULTS["conv_kernel"] == 3 and TEACHER_DEFAULTS["embed_dropout"] == 0.25
    assert STUDENT_DEFAULTS["config"] == 5 and STUDENT_DEFAULTS["align"] == "student_down"
    assert STUDENT_DEFAULTS["downsample"] == "valid_conv"
    assert set(TEACHER_DEFAULTS) - {"branch"} == set(STUDENT_DEFAULTS) - {"config", "align", "downsample"}


def test_overrides_are_applied():
    teacher = build_teacher({"branch": "audio", "d_model": 8, "heads": 2, "layers": 1},
                            dims=DIMS, lengths=LENGTHS, n_out=1)
    assert teacher.branch == "audio" and teacher.head.out_layer.out_features == 1
    student = build_student({"config": 2, "d_model": 8, "heads": 2, "layers": 1}, dims=DIMS, lengths=LENGTHS, n_out=7)
    assert student.config == 2 and count_parameters(student) > 0


def test_unknown_key_names_the_field_and_suggests():
    with pytest.raises(SpaceError) as err:
        build_teacher({"d_modle": 8}, dims=DIMS, lengths=LENGTHS, n_out=7)
    assert err.value.field == "teacher.d_modle"
    assert "did you mean 'd_model'" in err.value.message


def test_bad_value_names_the_field():
    with pytest.raises(SpaceError) as err:
        build_student({"align": "teacher_up"}, dims=DIMS, lengths=LENGTHS, n_out=7)
    assert err.value.field == "student.align" and "student_down" in err.value.message
    with pytest.raises(SpaceError) as err:
        build_teacher({"d_model": 8, "heads": 3}, dims=DIMS, lengths=LENGTHS, n_out=7)
    assert err.value.field == "teacher.heads"
    with pytest.raises(SpaceError) as err:
        build_teacher({"res_dropout": 1.5}, dims=DIMS, lengths=LENGTHS, n_out=7)
    assert err.value.field == "teacher.res_dropout"
