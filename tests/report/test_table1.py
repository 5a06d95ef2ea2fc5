"""search_spaces/table1.yaml holds every row of paper 000's Table 1, each row is a valid
experiment, and `kdsearch report` prints ours beside the paper's."""

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from kdsearch.distill import LOSSES
from kdsearch.errors import UserError
from kdsearch.models import TEACHER_BRANCH_FOR_CONFIG
from kdsearch.report.table1 import PAPER_ROWS, PAPER_TEACHERS, report_command, student_rows
from kdsearch.results.store import write_parquet_atomic
from kdsearch.spec import schema
from kdsearch.spec.distill_checks import check_pairs
from kdsearch.spec.rows import parse_rows, row_config
from kdsearch.spec.space import load_space, resolve_space_path

RAW = yaml.safe_load(resolve_space_path("table1").read_text())


@pytest.fixture(scope="module")
def row_configs(tmp_path_factory):
    """Each row's experiment config, built on the space loaded without its rows section."""
    base = {k: v for k, v in RAW.items() if k not in ("rows", "smoke_test")}
    # Alone, the base runs CRD only and would refuse the EDAM options the EDAM rows use.
    base["distill"] = {k: RAW["distill"][k] for k in ("method", "level")}
    path = tmp_path_factory.mktemp("t1") / "base.yaml"
    path.write_text(yaml.safe_dump(base))
    space = load_space(str(path))
    space.config["distill"].update(RAW["distill"])
    rows = parse_rows(RAW["rows"], file="table1.yaml", known_paths=lambda p: True)
    return {name: row_config(space.config, rows, {"row": name}) for name in rows}


def test_every_paper_row_is_a_row_of_the_space_in_the_papers_order():
    assert list(RAW["rows"]) == [r.name for r in PAPER_ROWS]
    assert RAW["search"]["sampler"]["name"] == "grid"
    assert RAW["search"]["num_samples"] == RAW["smoke_test"]["search.num_samples"] == len(PAPER_ROWS)


def test_rows_pair_each_student_configuration_with_its_papers_teacher(row_configs):
    for name, cfg in row_configs.items():
        config = cfg["student"]["config"]
        assert cfg["teacher"]["branch"] == TEACHER_BRANCH_FOR_CONFIG[config], name
        assert name == "no_kd" or name.startswith(f"c{config}_"), name
        method, level = cfg["distill"]["method"], cfg["distill"]["level"]
        if name != "no_kd":
            assert f"_{method}_" in name and level in LOSSES[method].levels, name
    assert row_configs["no_kd"]["loss"]["beta"] == 0.0
    assert row_configs["c5_edam_up"]["distill"]["align"] == "teacher_up"
    assert row_configs["c5_edam_up"]["student"]["align"] == "none"


@pytest.mark.parametrize("name", [r.name for r in PAPER_ROWS])
def test_each_row_builds_and_binds_as_a_trial_would(name, row_configs):
    cfg = row_configs[name]
    check_pairs(cfg, cfg["distill"]["method"])  # raises SpaceError on anything a trial would refuse


def write_results(folder, rows, meta_extra=None):
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({"metric": "val_acc7", "mode": "max", "searched": ["row"],
                                                  "max_epochs": 1, **(meta_extra or {})}))
    write_parquet_atomic(pd.DataFrame(rows), folder / "trials.parquet")
    write_parquet_atomic(pd.DataFrame(columns=["trial_id", "epoch"]), folder / "epochs.parquet")


def test_report_puts_ours_beside_the_papers_numbers(tmp_path, capsys):
    trials = [
        {"trial_id": "a", "row": "c5_edam_down", "status": "done", "best_val_acc7": 0.40, "best_val_f1": 0.30},
        {"trial_id": "b", "row": "c5_edam_down", "status": "done", "best_val_acc7": 0.50, "best_val_f1": 0.34},
        {"trial_id": "c", "row": "no_kd", "status": "error", "best_val_acc7": None, "best_val_f1": None},
        {"trial_id": "d", "row": "my_extra_row", "status": "done", "best_val_acc7": 0.2, "best_val_f1": 0.1},
    ]
    teachers = {"k1": {"teacher": {"branch": "complete"}, "val_metrics": {"val_acc7": 0.61, "val_f1": 0.55}}}
    write_results(tmp_path / "r", trials, {"teachers": teachers})
    assert report_command(str(tmp_path / "r")) == 0
    out = capsys.readouterr().out
    assert "44.23" in out and "45.00 ± 7.07" in out  # paper's best row; ours: mean ± std of two trials
    assert "1 (1 failed)" in out and "my_extra_row" in out
    assert "61.00" in out and "49.78" in out  # our complete teacher beside the paper's
    assert "compare the ordering" in out


def test_rows_never_run_show_a_dash():
    frame = student_rows(pd.DataFrame({"row": ["c2_crd_final"], "status": ["done"], "best_val_acc7": [0.3],
                                       "best_val_f1": [0.2]}))
    assert len(frame) == len(PAPER_ROWS)
    assert frame.set_index("row").loc["c2_crd_final", "acc"] == pytest.approx(30.0)
    assert frame.set_index("row")["acc"].isna().sum() == len(PAPER_ROWS) - 1
    assert set(PAPER_TEACHERS) == {"complete", "video", "language", "audio"}


def test_report_on_another_search_says_what_it_needs(tmp_path):
    write_results(tmp_path / "r", [{"trial_id": "a", "status": "done", "best_val_acc7": 0.3}])
    with pytest.raises(UserError, match="table1.yaml"):
        report_command(str(tmp_path / "r"))


@pytest.mark.slow
@pytest.mark.skipif("rows" not in schema.TOP_LEVEL_KEYS, reason="needs the space loader's rows hook "
                    "(kdsearch.spec.rows) wired into space.py/tuner.py")
def test_smoke_search_runs_every_row_and_report_reads_it(tmp_path):
    env_run = [sys.executable, "-m", "kdsearch"]
    env = {"KDSEARCH_CACHE": str(tmp_path / "cache")}
    import os

    env = {**os.environ, **env}
    run = subprocess.run([*env_run, "run", "table1", "--smoke-test", "--name", "t1"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-3000:]
    trials = pd.read_parquet(tmp_path / "results" / "t1" / "trials.parquet")
    assert sorted(trials["row"]) == sorted(r.name for r in PAPER_ROWS)
    assert (trials["status"] == "done").all(), trials[["row", "status", "error"]]
    report = subprocess.run([*env_run, "report", "results/t1"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)
    assert report.returncode == 0 and "c5_edam_up" in report.stdout
