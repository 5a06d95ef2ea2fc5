"""Invalid method/level/alignment combinations are refused when the space is loaded, with the
key named and what is allowed said; valid ones load."""

import pytest
import yaml

from kdsearch.errors import SpaceError
from kdsearch.spec.space import load_space, resolve_space_path


def space_file(tmp_path, *, distill, student=None, teacher=None):
    raw = yaml.safe_load(resolve_space_path("smoke").read_text())
    raw["distill"] = distill
    raw["student"] = {**raw["student"], **(student or {})}
    raw["teacher"] = {**raw["teacher"], **(teacher or {})}
    raw["params"] = {"loss.beta": {"type": "float", "low": 0.1, "high": 1.0}}
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def refused(path):
    with pytest.raises(SpaceError) as info:
        load_space(path)
    return info.value


@pytest.mark.parametrize("distill,student", [
    ({"method": "crd", "level": "final", "nce_k": 64}, None),
    ({"method": "crd", "level": "penultimate"}, None),
    ({"method": "crd", "level": "post_attention", "pool": "last"}, None),
    ({"method": "crd", "level": "attention_maps", "heads": "per_head"}, None),
    ({"method": "crd", "level": "attention_maps"}, {"align": "none"}),  # CRD needs no equal map sizes
    ({"method": "edam", "level": "attention_maps", "align": "teacher_up"}, {"align": "none"}),
    ({"method": "edam", "level": "attention_maps", "align": "student_down"}, {"align": "student_down"}),
    ({"method": "logit", "level": "final", "temperature": 2.0}, None),  # no pairs: it distils the outputs
])
def test_valid_combinations_load(tmp_path, distill, student):
    space = load_space(space_file(tmp_path, distill=distill, student=student))
    assert space.config["distill"]["method"] == distill["method"]


@pytest.mark.parametrize("distill,student,teacher,field,words", [
    ({"method": "edam", "level": "final"}, None, None, "distill.level", "it allows attention_maps"),
    ({"method": "logit", "level": "attention_maps"}, None, None, "distill.level", "it allows final"),
    ({"method": "edam", "level": "attention_maps"}, {"align": "none"}, None, "distill.pairs",
     "distill.align: teacher_up"),
    ({"method": "edam", "level": "attention_maps", "align": "teacher_up"}, None, None, "distill.align",
     "student.align: none"),
    ({"method": "edam", "level": "attention_maps", "align": "sideways"}, None, None, "distill.align",
     "'student_down', 'teacher_up'"),
    ({"method": "edam", "level": "attention_maps", "heads": "per_head"}, {"heads": 4}, None, "distill.heads",
     "equal head counts"),
    ({"method": "crd", "level": "final", "align": "teacher_up"}, None, None, "distill.align",
     "it is an option of edam"),
    ({"method": "crd", "level": "final", "nce_k": 0}, None, None, "distill.nce_k", ">= 1"),
    ({"method": "crd", "level": "post_attention", "pairs": {"V<-X": "V<-A"}}, None, None, "distill.pairs",
     "student has no transformer"),
    ({"method": "crd", "level": "attention_maps"}, {"config": 2}, {"branch": "video"}, None, None),
])
def test_refused_with_the_key_and_what_is_allowed(tmp_path, distill, student, teacher, field, words):
    path = space_file(tmp_path, distill=distill, student=student, teacher=teacher)
    if field is None:  # configuration 2 with its own branch teacher: the paper's CRD-on-maps row
        assert load_space(path).config["student"]["config"] == 2
        return
    err = refused(path)
    assert err.field == field and words in err.message, err.message
