"""After `--resume` the live leaderboard shows the whole search, not only the trials run since.

Tune restores callbacks from the copy it pickled when the search began (empty rows), so the
board reads back what ResultsWriter wrote, as the writer itself does. No Ray runtime needed:
Tune's callbacks are driven by hand with stub trials.
"""

from __future__ import annotations

from ray.tune.experiment import Trial
from rich.console import Console

from kdsearch.search.live_leaderboard import LiveLeaderboard
from kdsearch.search.results_writer import ResultsWriter

COMMON = dict(searched=["loss.alpha"], metric="val_acc7", mode="max", max_epochs=2)


def _trial(trial_id, alpha):
    return Trial("f", config={"loss.alpha": alpha}, trial_id=trial_id, stub=True)


def _report(callbacks, trial, epoch, acc):
    for cb in callbacks:
        cb.on_trial_result(iteration=epoch, trials=[trial], trial=trial, result={"epoch": epoch, "val_acc7": acc})


def _first_run(out_dir, a, b, c):
    """a finishes; b and c are mid-search when the driver is killed (c after Tune's last snapshot)."""
    writer = ResultsWriter(out_dir, resume=True, **COMMON)
    writer.setup(num_samples=4)
    for t in (a, b, c):
        writer.on_trial_start(iteration=0, trials=[t], trial=t)
    _report([writer], a, 1, 0.3)
    _report([writer], a, 2, 0.4)
    writer.on_trial_complete(iteration=2, trials=[a], trial=a)
    _report([writer], b, 1, 0.2)
    _report([writer], c, 1, 0.9)
    writer.flush()  # then SIGKILL: no experiment end


def test_resumed_board_shows_earlier_rows_and_drops_unknown_trials(tmp_path):
    a, b, c, d = _trial("a", 0.1), _trial("b", 0.2), _trial("c", 0.3), _trial("d", 0.4)
    _first_run(tmp_path, a, b, c)

    console = Console(record=True, width=200, force_terminal=False)
    writer = ResultsWriter(tmp_path, resume=True, **COMMON)
    board = LiveLeaderboard(num_samples=4, console=console, results_dir=tmp_path, **COMMON)
    for cb in (writer, board):
        cb.setup(num_samples=4)
    assert set(board.records.trials) == {"a", "b", "c"}  # before the first step: as written
    for cb in (writer, board):
        cb.on_step_begin(iteration=0, trials=[a, b, d])  # the restored Tune knows a and b; d replaces c
    assert set(board.records.trials) == {"a", "b"}
    for cb in (writer, board):
        cb.on_trial_start(iteration=1, trials=[a, b, d], trial=b)
        cb.on_trial_start(iteration=1, trials=[a, b, d], trial=d)
    _report([writer, board], b, 2, 0.5)
    _report([writer, board], d, 1, 0.6)
    _report([writer, board], d, 2, 0.7)
    for cb in (writer, board):
        for t in (b, d):
            cb.on_trial_complete(iteration=3, trials=[a, b, d], trial=t)
        cb.on_experiment_end(trials=[a, b, d])

    # The board and the files agree, row for row.
    assert board.records.trials_frame()["trial_id"].tolist() == writer.records.trials_frame()["trial_id"].tolist()
    assert len(board.records.epochs) == len(writer.records.epochs) == 6
    text = console.export_text()
    final_rows = {line.split("│")[2].strip() for line in text.splitlines() if line.count("│") > 3}
    assert final_rows == {"a", "b", "d"}
    assert "3/4 trials" in text and "done 3" in text and "budget 75%" in text
    assert "best val_acc7=0.7 (trial d)" in text


def test_fresh_search_board_starts_empty(tmp_path):
    writer = ResultsWriter(tmp_path, resume=True, **COMMON)  # as build_callbacks makes it
    board = LiveLeaderboard(num_samples=2, console=Console(quiet=True), results_dir=tmp_path, **COMMON)
    writer.setup(num_samples=2)  # writes empty tables first
    board.setup(num_samples=2)
    assert not board.records.trials and not board._reconcile
