"""`kdsearch confirm` end to end on a dataset FILE (data.path): a one-trial smoke search, then its
best configuration and the no-KD baseline over 2 seeds as one Ray Tune grid, scored once on test."""

import json

import pandas as pd
import pytest
import yaml

from kdsearch.cli import main
from smoke_space import write_smoke_space

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    from kdsearch.data.synthetic import generate

    root = tmp_path_factory.mktemp("confirm")
    mp = pytest.MonkeyPatch()
    mp.setenv("KDSEARCH_CACHE", str(root / "cache"))
    generate(root / "tiny.h5", preset="small", seed=0, n_train=64, n_valid=32, n_test=32)
    space = write_smoke_space(root / "s.yaml", search={"num_samples": 1}, train={"epochs": 1, "batch_size": 32},
                              teacher_train={"epochs": 1})
    raw = yaml.safe_load(space.read_text())
    raw["data"] = {"path": str(root / "tiny.h5")}
    space.write_text(yaml.safe_dump(raw))
    assert main(["run", str(space), "--name", "s", "--results-dir", str(root / "results")]) == 0
    yield root / "results" / "s"
    mp.undo()


def test_confirm_trains_config_and_baseline_over_seeds_then_resumes_without_retraining(search, capsys):
    assert main(["confirm", str(search), "--top", "1", "--seeds", "2"]) == 0
    out = search / "confirm"
    report = json.loads((out / "confirm.json").read_text())
    (best,) = pd.read_parquet(search / "trials.parquet")["trial_id"]
    label = f"#1 ({best})"
    assert list(report["configurations"]) == [label, "no-KD"]
    conf, base = report["configurations"][label], report["configurations"]["no-KD"]
    assert conf["baseline"] == "no-KD" and base["overrides"] == {"loss.beta": 0.0}
    assert conf["seeds"] == base["seeds"] == [0, 1] and conf["epochs"] == [1, 1]
    diff = conf["vs_baseline"]["acc7"]
    assert diff["mean"] == pytest.approx(conf["test"]["acc7"]["mean"] - base["test"]["acc7"]["mean"])
    assert diff["wilcoxon_p"] is not None and diff["ttest_p"] is not None or diff["std"] == 0
    assert "MulT complete" in next(iter(report["teacher"])) and 0 <= report["chance"]["acc7"] <= 1
    text = (out / "confirm.md").read_text()
    assert "Wilcoxon signed-rank" in text and "| no-KD | 2 |" in text and "chance" in text
    assert (out / "confirm.png").read_bytes()[:4] == b"\x89PNG"
    # the grid is a results folder like a search's: 2 configurations x 2 seeds, each seed paired
    grid = pd.read_parquet(out / "trials.parquet")
    assert sorted(zip(grid["configuration"], grid["train.seed"])) == [(label, 0), (label, 1), ("no-KD", 0),
                                                                     ("no-KD", 1)]
    scored = pd.read_parquet(out / "evaluation.parquet")
    assert len(scored) == 4 and scored["test_acc7"].between(0, 1).all()
    capsys.readouterr()

    # Run again: nothing is trained or scored again (the test split is scored once).
    assert main(["confirm", str(search), "--top", "1", "--seeds", "2"]) == 0
    assert "scored on test" not in capsys.readouterr().out
    assert pd.read_parquet(out / "evaluation.parquet").equals(scored)
    # Other seeds than the folder holds: one line, exit 2, nothing changed.
    assert main(["confirm", str(search), "--seeds", "3"]) == 2
    assert "seeds" in capsys.readouterr().err
