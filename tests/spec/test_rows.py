"""Named rows: parsed and checked, turned into one categorical, applied to a trial's config."""

import optuna
import pytest

from kdsearch.errors import SpaceError
from kdsearch.spec.params import ParamSpec
from kdsearch.spec.rows import ROW_PARAM, RowsDefineByRun, attach_rows, parse_rows, row_config

CONFIG = {"teacher": {"branch": "complete"}, "student": {"config": 5}, "distill": {"method": "crd", "level": "final"},
          "loss": {"beta": 0.8}}


def known(path):
    node = CONFIG
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return path == "distill.align"  # stands for a distillation option
        node = node[part]
    return True


def parse(raw):
    return parse_rows(raw, file="t.yaml", known_paths=known)


@pytest.mark.parametrize("raw,field,words", [
    ([], "rows", "must map row names"),
    ({"a/b": {}}, "rows.a/b", "letters, digits"),
    ({"r": ["student.config", 2]}, "rows.r", "must be a mapping"),
    ({"r": {"student.confg": 2}}, "rows.r.student.confg", "not a config key"),
    ({"r": {"search.num_samples": 2}}, "rows.r.search.num_samples", "not a config key"),
    ({"r": {"student.config": [1, 2]}}, "rows.r.student.config", "single values"),
])
def test_bad_rows_name_file_and_key(raw, field, words):
    with pytest.raises(SpaceError) as info:
        parse(raw)
    assert info.value.file == "t.yaml" and info.value.field == field and words in info.value.message


def test_rows_become_one_categorical_in_file_order_before_other_params():
    rows = parse({"b": {"student.config": 2}, "a": {"distill.align": "teacher_up"}, "empty": {}})
    beta = ParamSpec("loss.beta", "float", low=0.1, high=1.0)
    params = attach_rows({"loss.beta": beta}, rows, file="t.yaml")
    assert list(params) == [ROW_PARAM, "loss.beta"]
    assert params[ROW_PARAM].choices == ("b", "a", "empty")


def test_a_row_may_not_set_a_searched_path():
    rows = parse({"r": {"loss.beta": 0.0}})
    with pytest.raises(SpaceError, match="set it in one place") as info:
        attach_rows({"loss.beta": ParamSpec("loss.beta", "float", low=0.1, high=1.0)}, rows, file="t.yaml")
    assert info.value.field == "rows.r.loss.beta"


def test_row_config_applies_the_row_then_sampled_values_and_keeps_the_name():
    rows = parse({"c2": {"teacher.branch": "video", "student.config": 2}})
    cfg = row_config(CONFIG, rows, {ROW_PARAM: "c2", "loss.beta": 0.5})
    assert cfg["teacher"]["branch"] == "video" and cfg["student"]["config"] == 2 and cfg["loss"]["beta"] == 0.5
    assert cfg[ROW_PARAM] == "c2" and CONFIG["teacher"]["branch"] == "complete"  # the base is untouched
    with pytest.raises(SpaceError, match="unknown row 'c3'"):
        row_config(CONFIG, rows, {ROW_PARAM: "c3"})


def test_grid_search_over_rows_runs_each_row_once_and_hands_ray_its_paths():
    rows = parse({"r1": {"student.config": 1}, "r2": {"student.config": 2}, "r3": {}})
    params = attach_rows({}, rows, file="t.yaml")
    space_fn = RowsDefineByRun(params, {}, rows)
    returned = {}

    def objective(trial):
        extra = space_fn(trial)  # samples the row, then returns its paths
        returned[trial.params[ROW_PARAM]] = extra
        return 0.0

    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        study = optuna.create_study(sampler=optuna.samplers.BruteForceSampler(seed=0))
    study.optimize(objective, n_trials=10)  # the grid sampler stops the study when the rows are out
    assert len(study.trials) == 3
    assert returned == {"r1": {"student.config": 1}, "r2": {"student.config": 2}, "r3": None}
