"""The space loader refuses every bad file with the file and the key named."""

import optuna
import pytest
import yaml

from kdsearch.errors import SpaceError
from kdsearch.spec.params import define_by_run
from kdsearch.spec.space import load_space, resolve_space_path


def write(tmp_path, text, name="space.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def smoke_with(tmp_path, **changes):
    raw = yaml.safe_load(open(resolve_space_path("smoke")).read())
    for dotted, value in changes.items():
        node = raw
        parts = dotted.split("__")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return write(tmp_path, yaml.safe_dump(raw))


def error_of(path):
    with pytest.raises(SpaceError) as info:
        load_space(path)
    return info.value


@pytest.mark.parametrize("arg", ["search_spaces/edam.yaml", "spaces/edam.yaml", "edam", "edam.yaml"])
def test_bundled_space_found_by_name(arg):
    space = load_space(arg)
    assert space.name == "edam"
    assert set(space.params) == {"loss.alpha", "loss.beta", "distill.temperature"}


@pytest.mark.parametrize("arg", ["/nonexistent/dir/edam.yaml", "my_spaces/edam.yaml", "../edam.yaml"])
def test_a_missing_path_is_an_error_not_a_bundled_file_of_the_same_name(arg):
    with pytest.raises(SpaceError, match="no such space file") as info:
        resolve_space_path(arg)
    assert info.value.file == arg


def test_unknown_top_level_key_has_did_you_mean(tmp_path):
    err = error_of(smoke_with(tmp_path, serach={"metric": "val_acc7"}))
    assert err.field == "serach" and "did you mean 'search'" in err.message
    assert err.file.endswith("space.yaml")


def test_unknown_nested_key(tmp_path):
    err = error_of(smoke_with(tmp_path, train__epoch=3))
    assert err.field == "train.epoch" and "did you mean 'epochs'" in err.message


@pytest.mark.parametrize("entry,field,words", [
    ({"type": "float", "low": 3.0, "high": 0.0}, "params.loss.beta", "inverted range"),
    ({"type": "float", "low": 1.0, "high": 1.0}, "params.loss.beta", "empty range"),
    ({"type": "float", "low": 0.0, "high": 1.0, "log": True}, "params.loss.beta.low", "log scale needs low > 0"),
    ({"type": "float", "low": "a", "high": 1.0}, "params.loss.beta.low", "must be a finite number"),
    ({"type": "floot", "low": 0.0, "high": 1.0}, "params.loss.beta.type", "type must be one of"),
    ({"type": "categorical", "choices": []}, "params.loss.beta.choices", "non-empty list"),
    ({"type": "float", "low": 0.0, "high": 1.0, "when": {"distill.metod": "edam"}}, "params.loss.beta.when",
     "unknown parameter 'distill.metod'"),
])
def test_bad_param_entries(tmp_path, entry, field, words):
    err = error_of(smoke_with(tmp_path, params={"loss.beta": entry}))
    assert err.field == field and words in err.message


def test_param_on_unknown_config_path(tmp_path):
    err = error_of(smoke_with(tmp_path, params={"loss.gamma": {"type": "float", "low": 0, "high": 1}}))
    assert err.field == "params.loss.gamma"


def test_malformed_yaml_names_the_line(tmp_path):
    err = error_of(write(tmp_path, "name: x\nsearch: {metric: [\n  oops: 1\n"))
    assert "malformed YAML" in err.message and err.field.startswith("line ")


def test_edam_on_linear_layer_refused_with_allowed_levels(tmp_path):
    err = error_of(smoke_with(tmp_path, distill__level="final"))
    assert err.field == "distill.level" and "attention_maps" in err.message


def test_metric_must_be_reported_for_task(tmp_path):
    err = error_of(smoke_with(tmp_path, search__metric="val_mae"))
    assert err.field == "search.metric"


def test_grace_period_beyond_epochs(tmp_path):
    err = error_of(smoke_with(tmp_path, search__scheduler={"name": "asha", "grace_period": 10}))
    assert err.field == "search.scheduler.grace_period"


def test_results_name_with_separator_refused(tmp_path):
    err = error_of(smoke_with(tmp_path, name="../escape"))
    assert err.field == "name"


def test_missing_space_file_lists_bundled():
    with pytest.raises(SpaceError) as info:
        load_space("no_such_space_xyz")
    assert "bundled spaces" in info.value.message and "edam" in info.value.message


def test_conditional_parameter_sampled_only_when_condition_holds(tmp_path):
    path = smoke_with(tmp_path, params={
        "distill.direction": {"type": "categorical", "choices": ["paper", "teacher_to_student"]},
        "distill.temperature": {"type": "float", "low": 0.5, "high": 4.0, "when": {"distill.direction": "paper"}},
    })
    space = load_space(path)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    fn = define_by_run(space.params)
    seen = []
    for _ in range(12):
        trial = study.ask()
        fn(trial)
        seen.append(dict(trial.params))
        study.tell(trial, 0.0)
    directions = {p["distill.direction"] for p in seen}
    assert directions == {"paper", "teacher_to_student"}
    for p in seen:
        assert ("distill.temperature" in p) == (p["distill.direction"] == "paper")


def test_the_readme_shows_edam_yaml_as_it_is():
    # The README prints the demo space; an excerpt that drifts from the file misleads new users.
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    excerpt = readme[readme.index("`search_spaces/edam.yaml`, comments shortened:"):]
    excerpt = excerpt[excerpt.index("```yaml") + len("```yaml"):]
    shown = yaml.safe_load(excerpt[:excerpt.index("```")])
    actual = yaml.safe_load(resolve_space_path("edam").read_text())
    assert shown == {k: v for k, v in actual.items() if k not in ("name", "description")}


def test_searched_parameters_are_optuna_distributions(tmp_path):
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    space = load_space("edam")
    beta = space.params["loss.beta"].distribution()
    assert isinstance(beta, FloatDistribution) and (beta.low, beta.high) == (0.0, 3.0)
    assert space.params["distill.temperature"].distribution().log


def test_what_optuna_itself_refuses_is_one_line_naming_the_key():
    # The loader's own checks come first (clearer messages); Optuna's argument checks are the net
    # under them, e.g. for a spec built without them.
    from kdsearch.spec.params import ParamSpec, _checked_by_optuna

    with pytest.raises(SpaceError) as info:
        _checked_by_optuna(ParamSpec("loss.beta", "float", low=1.0, high=0.5), "s.yaml")
    assert (info.value.file, info.value.field) == ("s.yaml", "params.loss.beta")
    assert "Optuna refuses" in info.value.problem and "\n" not in info.value.message
