"""The parquet store: atomic writes, throttling, resume, clear errors for broken directories."""

from __future__ import annotations

import io
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from ray.tune.experiment import Trial
from rich.console import Console

from kdsearch.errors import UserError
from kdsearch.results import leaderboard_command, read_results
from kdsearch.search.results_writer import ResultsWriter
from kdsearch.results.store import write_parquet_atomic


def _writer(out_dir, **kwargs):
    return ResultsWriter(out_dir, searched=["loss.alpha"], metric="val_acc7", mode="max",
                         max_epochs=3, **kwargs)


def _trial(trial_id, alpha):
    # A real (stub) Tune Trial: the callbacks read only its id and config.
    return Trial("f", config={"loss.alpha": alpha}, trial_id=trial_id, stub=True)


def _report(writer, trial, epoch, acc):
    writer.on_trial_result(iteration=epoch, trials=[trial], trial=trial,
                           result={"epoch": epoch, "val_acc7": acc, "val_f1": acc / 2})


def test_setup_writes_meta_and_empty_tables(tmp_path):
    out = tmp_path / "results" / "s"
    _writer(out, meta_extra={"rungs": [1, 2]}).setup(num_samples=5, total_num_samples=5)
    meta, trials, epochs = read_results(out)
    assert meta["metric"] == "val_acc7" and meta["mode"] == "max"
    assert meta["searched"] == ["loss.alpha"] and meta["max_epochs"] == 3
    assert meta["num_samples"] == 5 and meta["rungs"] == [1, 2]
    assert trials.empty and epochs.empty and "trial_id" in trials.columns
    # leaderboard on a search that just began: a table and a clear line, exit code 0.
    text = io.StringIO()
    assert leaderboard_command(str(out), console=Console(file=text, width=150)) == 0
    assert "No trial has reported val_acc7 yet." in text.getvalue()


def test_writes_are_throttled_but_never_lost_at_trial_end(tmp_path):
    writer = _writer(tmp_path, flush_every_s=3600)
    writer.setup()
    trial = _trial("a", 0.1)
    writer.on_trial_start(iteration=0, trials=[trial], trial=trial)
    _report(writer, trial, 1, 0.2)
    writer.on_step_end(iteration=1, trials=[trial])
    # Inside the throttle window: nothing written yet.
    assert pq.read_table(tmp_path / "epochs.parquet").num_rows == 0
    writer.on_trial_complete(iteration=2, trials=[trial], trial=trial)  # written at once
    _, trials, epochs = read_results(tmp_path)
    assert len(epochs) == 1 and trials.loc[0, "status"] == "stopped"
    assert trials.loc[0, "loss.alpha"] == 0.1
    assert trials.loc[0, "best_val_f1"] == pytest.approx(0.1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "epochs.parquet", "meta.json", "trials.parquet"]


def test_resume_takes_back_earlier_rows(tmp_path):
    first = _writer(tmp_path)
    first.setup()
    a = _trial("a", 0.1)
    first.on_trial_start(iteration=0, trials=[a], trial=a)
    _report(first, a, 1, 0.2)
    first.on_trial_complete(iteration=1, trials=[a], trial=a)
    again = _writer(tmp_path, resume=True)
    again.setup()
    b = _trial("b", 0.7)
    again.on_trial_start(iteration=0, trials=[b], trial=b)
    _report(again, b, 1, 0.5)
    _report(again, a, 2, 0.6)  # a restored trial goes on where it stopped
    again.on_experiment_end(trials=[a, b])
    _, trials, epochs = read_results(tmp_path)
    assert sorted(trials["trial_id"]) == ["a", "b"] and len(epochs) == 3
    assert trials.set_index("trial_id").loc["a", "best_epoch"] == 2
    fresh = _writer(tmp_path)  # without resume the directory starts over
    fresh.setup()
    assert read_results(tmp_path)[1].empty


def test_atomic_write_survives_a_stale_tmp_and_mixed_types(tmp_path):
    path = tmp_path / "trials.parquet"
    write_parquet_atomic(pd.DataFrame({"trial_id": ["a"], "x": [1.0]}), path)
    # A kill during a later write leaves only the .tmp half-written; the real file is intact.
    (tmp_path / "trials.parquet.tmp").write_bytes(b"PAR1 half")
    assert pq.read_table(path).to_pandas()["x"].tolist() == [1.0]
    mixed = pd.DataFrame({"trial_id": ["a", "b"], "choice": [0.5, "none"], "n": [1, 2.5]})
    write_parquet_atomic(mixed, path)
    table = pq.read_table(path).to_pandas()
    assert table["choice"].tolist() == ["0.5", "none"] and table["n"].tolist() == [1.0, 2.5]
    assert not (tmp_path / "trials.parquet.tmp").exists()  # replaced by the finished write


@pytest.mark.parametrize("breakage, named", [
    ("no_dir", "missing_dir"),
    ("no_meta", "meta.json"),
    ("bad_json", "meta.json"),
    ("meta_field", "meta.json: metric"),
    ("no_trials", "trials.parquet"),
    ("corrupt_epochs", "epochs.parquet"),
])
def test_read_results_names_the_broken_file(tmp_path, breakage, named):
    _writer(tmp_path).setup()
    target = tmp_path
    if breakage == "no_dir":
        target = tmp_path / "missing_dir"
    elif breakage == "no_meta":
        (tmp_path / "meta.json").unlink()
    elif breakage == "bad_json":
        (tmp_path / "meta.json").write_text("{not json")
    elif breakage == "meta_field":
        meta = json.loads((tmp_path / "meta.json").read_text())
        del meta["metric"]
        (tmp_path / "meta.json").write_text(json.dumps(meta))
    elif breakage == "no_trials":
        (tmp_path / "trials.parquet").unlink()
    elif breakage == "corrupt_epochs":
        (tmp_path / "epochs.parquet").write_bytes(b"this is not parquet")
    with pytest.raises(UserError) as err:
        read_results(target)
    assert named in err.value.message
    with pytest.raises(UserError):
        leaderboard_command(str(target), console=Console(file=io.StringIO()))
