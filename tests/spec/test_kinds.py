"""The registry of experiment kinds: each kind answers what the search and verbs ask of it."""

import pytest
import torch

from kdsearch.errors import SpaceError
from kdsearch.spec.kinds import KINDS, ExperimentKind, get_kind, kind_of, register_kind
from kdsearch.spec.space import load_space


def test_the_two_kinds_are_registered():
    assert set(KINDS) == {"distill", "dmd"}
    assert kind_of({}).name == "distill"  # a space without `kind:` distils


def test_an_unknown_kind_names_the_key_and_the_nearest_one():
    with pytest.raises(SpaceError, match="did you mean 'dmd'") as err:
        get_kind("dmdd", file="x.yaml")
    assert (err.value.file, err.value.field) == ("x.yaml", "kind")


def test_a_second_kind_of_the_same_name_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        @register_kind
        class Again(ExperimentKind):
            name = "dmd"


def test_whether_a_teacher_is_needed_is_the_kind_s_answer():
    distill, dmd = get_kind("distill"), get_kind("dmd")
    assert distill.needs_teacher({"loss": {"beta": 1.0}})
    assert not distill.needs_teacher({"loss": {"beta": 0.0}})
    assert distill.needs_teacher({"loss": {"beta": 0.0}}, searched={"loss.beta": None})
    assert not dmd.needs_teacher({"model": {}}, searched={"model.lambda1": None})


@pytest.mark.parametrize("name,section,summary", [("smoke", "student", "method edam at attention_maps"),
                                                  ("dmd", "model", "DMD")])
def test_each_kind_describes_and_saves_its_model(name, section, summary):
    space = load_space(name)
    kind = kind_of(space.config)
    assert kind.model_section == section and kind.summary(space.config) == summary
    assert kind.model_file_config(space.config).items() >= {k: v for k, v in space.config[section].items()}.items()


def test_a_distill_run_is_the_trial_s_run_and_scoring_drops_the_teacher():
    from kdsearch.train.experiment import data_shapes_of

    space = load_space("smoke")
    kind = kind_of(space.config)
    n = 12
    arrays = {}
    for split in ("train", "valid"):
        gen = torch.Generator().manual_seed(0)
        for modality, (t, d) in {"text": (6, 5), "audio": (8, 4), "vision": (8, 3)}.items():
            arrays[f"{split}/{modality}"] = torch.randn(n, t, d, generator=gen).numpy()
        arrays[f"{split}/label"] = torch.linspace(-3, 3, n).numpy()
    scoring = kind.scoring_config(space.config)
    assert scoring["loss"]["beta"] == 0.0 and space.config["loss"]["beta"] != 0.0
    trainer, train, valid, model = kind.build_run(scoring, arrays, data_shapes_of(arrays), torch.device("cpu"))
    assert train.n == n and valid.n == n and trainer.objective.teacher is None
    assert model is trainer.objective.student
