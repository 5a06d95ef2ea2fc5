"""kdsearch.spec.checks and search_checks, called directly: the first problem, its key named."""

import copy
import math

import pytest

from kdsearch.errors import SpaceError
from kdsearch.spec.checks import check_experiment
from kdsearch.spec.search_checks import check_resources, check_search
from kdsearch.spec.space import load_space
from kdsearch.spec.values import is_int, is_number


@pytest.fixture(scope="module")
def smoke():
    return load_space("smoke")


def changed(space, section: str, **values):
    out = copy.deepcopy(space)
    holder = out.search if section == "search" else out.resources if section == "resources" else out.config[section]
    holder.update(values)
    return out


def field_of(check, space) -> str:
    with pytest.raises(SpaceError) as err:
        check(space)
    assert err.value.file == space.file
    return err.value.field


def test_a_bundled_space_passes_every_check(smoke):
    check_experiment(smoke)


@pytest.mark.parametrize("values,field", [
    ({"metric": "val_mae"}, "search.metric"),  # not reported for classification
    ({"mode": "maximise"}, "search.mode"),
    ({"num_samples": 0}, "search.num_samples"),
    ({"max_failures": -2}, "search.max_failures"),
    ({"scheduler": {"name": "asha", "reduction_factor": 1}}, "search.scheduler.reduction_factor"),
    ({"scheduler": {"name": "asha", "grace": 1}}, "search.scheduler.grace"),
    ({"sampler": {"name": "tpe", "seed": 1.5}}, "search.sampler.seed"),
    ({"objectives": [{"metric": "latency_ms", "mode": "up"}]}, "search.objectives[0].mode"),
    ({"objective_epoch": "final"}, "search.objective_epoch"),
])
def test_search_section_refusals_name_the_key(smoke, values, field):
    assert field_of(check_search, changed(smoke, "search", **values)) == field


@pytest.mark.parametrize("values,field", [({"cpus_per_trial": 0}, "resources.cpus_per_trial"),
                                          ({"gpus_per_trial": 1.5}, "resources.gpus_per_trial")])
def test_resource_refusals_name_the_key(smoke, values, field):
    assert field_of(check_resources, changed(smoke, "resources", **values)) == field


@pytest.mark.parametrize("section,values,field", [
    ("train", {"lr": 0.0}, "train.lr"),
    ("train", {"batch_size": True}, "train.batch_size"),  # YAML's true is an int to Python
    ("train", {"labelled_fraction": 0.0}, "train.labelled_fraction"),
    ("loss", {"beta": float("nan")}, "loss.beta"),
    ("data", {"synthetic": "huge"}, "data.synthetic"),
])
def test_value_refusals_name_the_key(smoke, section, values, field):
    assert field_of(check_experiment, changed(smoke, section, **values)) == field


def test_plain_value_tests_refuse_bools_and_nan():
    assert is_int(3) and not is_int(True) and not is_int(3.0)
    assert is_number(2.5) and not is_number(math.nan) and not is_number(math.inf) and not is_number("1")
