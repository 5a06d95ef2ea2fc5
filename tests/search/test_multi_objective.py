"""A real multi-objective search: accuracy against student size, through Ray, Optuna and the report.

Four trials of the smoke space, two epochs each, with the student's width searched so the sizes
differ. One search (about 20 s of CPU, 40 s on two idle cores) backs every check below.
"""

import optuna
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from kdsearch.search.driver import RunOptions, run_search
from kdsearch.spec.space import load_space
from shared_searches import copy_warm_cache
from smoke_space import write_smoke_space

pytestmark = pytest.mark.slow

SIZE = {"metric": "student_params", "mode": "min"}


@pytest.fixture(scope="module")
def search(tmp_path_factory, smoke_search):
    root = tmp_path_factory.mktemp("multi_objective")
    mp = pytest.MonkeyPatch()
    # The smoke space's teacher, trained once for the session (tests/shared_searches.py).
    mp.setenv("KDSEARCH_CACHE", str(copy_warm_cache(smoke_search, root / "cache")))
    space_file = write_smoke_space(root / "mo.yaml",
                                   params={"student.d_model": {"type": "categorical", "choices": [4, 8]}},
                                   search={"num_samples": 4, "objectives": [SIZE]}, train={"epochs": 2})
    outcome = run_search(load_space(str(space_file)), RunOptions(name="mo", results_root=str(root / "results")),
                         Console(quiet=True))
    yield outcome.results_dir
    mp.undo()


def _dominated(a, b) -> bool:
    """b beats a: accuracy at least as high, size at most as big, and better on one of them."""
    return (b.best_val_acc7 >= a.best_val_acc7 and b.student_params <= a.student_params
            and (b.best_val_acc7 > a.best_val_acc7 or b.student_params < a.student_params))


def test_study_has_two_directions_and_finished_trials_have_two_values(search):
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(search / "optuna.journal")))
    study = optuna.load_study(study_name="mo", storage=storage)
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    trials = pq.read_table(search / "trials.parquet").to_pandas()
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len(complete) == int((trials.status == "done").sum()) >= 1
    assert len(pruned) == int((trials.status == "stopped").sum())
    sizes = dict(zip(trials["loss.alpha"], trials["student_params"]))
    for t in complete:
        acc, size = t.values
        assert 0 <= acc <= 1
        assert size == sizes[t.params["loss.alpha"]]  # the size Optuna minimises is the trial's own


def test_leaderboard_marks_the_pareto_front(search):
    from kdsearch.results.leaderboard import leaderboard_command

    console = Console(record=True, width=220, force_terminal=False)
    leaderboard_command(search, console=console)
    lines = console.export_text().splitlines()
    assert any("Pareto" in line and "student_params" in line for line in lines)
    trials = pq.read_table(search / "trials.parquet").to_pandas()
    for a in trials.itertuples():
        row = next(line for line in lines if a.trial_id in line and "│" in line)
        on_front = not any(_dominated(a, b) for b in trials.itertuples())
        assert ("★" in row) == on_front, row


def test_report_draws_the_pareto_front(search):
    from kdsearch.cli import main

    assert main(["report", str(search)]) == 0
    png = search / "report" / "pareto.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## Pareto front" in (search / "report" / "summary.md").read_text()


def test_pareto_column_marks_front_trials_asha_stopped(search):
    from kdsearch.results.leaderboard import leaderboard_command

    console = Console(record=True, width=220, force_terminal=False)
    leaderboard_command(search, console=console)
    lines = console.export_text().splitlines()
    trials = pq.read_table(search / "trials.parquet").to_pandas()
    for a in trials.itertuples():
        row = next(line for line in lines if a.trial_id in line and "│" in line)
        if "★" in row:
            assert ("★ stopped" in row) == (a.status == "stopped"), row
