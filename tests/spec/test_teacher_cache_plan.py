"""`distill.teacher_cache: auto | on | off` is decided at validation from shapes alone."""

import pytest
import yaml

from kdsearch.cli import main
from kdsearch.errors import SpaceError
from kdsearch.spec.space import load_space
from kdsearch.spec.teacher_cache_plan import ENV_BUDGET, budget_bytes, cache_mode, plan_for_space
from smoke_space import write_smoke_space

MOSEI_EDAM = {"name": "mosei_edam", "data": {"synthetic": "mosei"}, "teacher": {"branch": "complete"},
              "student": {"config": 5}, "distill": {"method": "edam", "level": "attention_maps"}}


def _space(tmp_path, **distill):
    raw = {**MOSEI_EDAM, "distill": {**MOSEI_EDAM["distill"], **distill}}
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_auto_falls_back_to_the_online_teacher_at_mosei_size_saying_how_big(tmp_path, capsys):
    plan = plan_for_space(load_space(str(_space(tmp_path))))
    assert not plan.use and plan.nbytes > 100 * 2**30  # 500 x 500 maps, 16,326 clips
    assert "GiB" in plan.line and "online in every trial" in plan.line
    assert main(["validate", str(_space(tmp_path))]) == 0
    assert "teacher cache off: the teacher's targets would take" in capsys.readouterr().out


def test_on_is_refused_at_mosei_size_with_that_line(tmp_path, capsys):
    with pytest.raises(SpaceError) as err:
        load_space(str(_space(tmp_path, teacher_cache="on")))
    assert err.value.field == "distill.teacher_cache" and "GiB" in err.value.problem
    assert main(["validate", str(_space(tmp_path, teacher_cache="on"))]) == 2
    assert "distill.teacher_cache: the teacher's targets would take" in capsys.readouterr().err


def test_the_small_default_is_cached_and_the_budget_can_be_capped(tmp_path, monkeypatch):
    space = load_space(str(write_smoke_space(tmp_path / "s.yaml")))
    plan = plan_for_space(space)
    assert plan.use and 2**20 < plan.nbytes < 2**30
    monkeypatch.setenv(ENV_BUDGET, "1MB")
    assert not plan_for_space(space).use
    with pytest.raises(SpaceError, match="1MB"):
        load_space(str(write_smoke_space(tmp_path / "on.yaml", distill={"teacher_cache": "on"})))


def test_half_precision_halves_the_size(tmp_path):
    full = plan_for_space(load_space(str(write_smoke_space(tmp_path / "a.yaml"))))
    half = plan_for_space(load_space(str(write_smoke_space(tmp_path / "b.yaml",
                                                           distill={"teacher_cache_dtype": "bfloat16"}))))
    assert half.nbytes * 2 == full.nbytes


def test_yaml_on_and_off_read_as_booleans_mean_on_and_off(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(write_smoke_space(tmp_path / "x.yaml").read_text().replace(
        "method: edam", "method: edam\n  teacher_cache: off"))
    space = load_space(str(path))
    assert space.config["distill"]["teacher_cache"] is False and cache_mode(space.config) == "off"
    assert not plan_for_space(space).use


@pytest.mark.parametrize("distill, params, field", [
    ({"teacher_cache": "sometimes"}, None, "distill.teacher_cache"),
    ({"teacher_cache_dtype": "int8"}, None, "distill.teacher_cache_dtype"),
    ({"teacher_cashe": "on"}, None, "distill.teacher_cashe"),
    ({}, {"distill.teacher_cache": {"type": "categorical", "choices": ["on", "off"]}}, "params.distill.teacher_cache"),
])
def test_bad_settings_are_refused_naming_the_key(tmp_path, distill, params, field):
    sections = {"distill": distill}
    if params:
        sections["params"] = params
    with pytest.raises(SpaceError) as err:
        load_space(str(write_smoke_space(tmp_path / "s.yaml", **sections)))
    assert err.value.field == field


def test_budget_leaves_room_for_the_data():
    room, what = budget_bytes(2 * 2**30, available=10 * 2**30)
    assert room == int(0.8 * 10 * 2**30 / 1.25) - 256 * 2**20 - 2 * 2**30 and "memory available" in what
    assert budget_bytes(100 * 2**30, available=10 * 2**30)[0] == 0


@pytest.mark.parametrize("value, words", [(0, "integer >= 1"), (2.5, "integer >= 1"), (True, "integer >= 1")])
def test_students_per_worker_is_checked(tmp_path, value, words):
    with pytest.raises(SpaceError, match=words) as err:
        load_space(str(write_smoke_space(tmp_path / "s.yaml", resources={"students_per_worker": value})))
    assert err.value.field == "resources.students_per_worker"


def test_packing_settings_are_read_and_pack_shares_batches_is_a_boolean(tmp_path):
    space = load_space(str(write_smoke_space(tmp_path / "s.yaml", resources={"students_per_worker": 4})))
    assert space.resources["students_per_worker"] == 4 and space.resources["pack_shares_batches"] is False
    with pytest.raises(SpaceError, match="true or false") as err:
        load_space(str(write_smoke_space(tmp_path / "t.yaml", resources={"pack_shares_batches": "yes"})))
    assert err.value.field == "resources.pack_shares_batches"
