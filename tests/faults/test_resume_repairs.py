"""What `--resume` mends after a write was cut short (a full disk, a kill): the last record of the
Optuna journal, and Tune's experiment state, from the copy ResultsWriter keeps of it."""

from __future__ import annotations

import json
import pickle

import optuna
import pytest

from kdsearch.errors import UserError
from kdsearch.results.store import TUNE_STATE_BACKUP
from kdsearch.search.results_writer import ResultsWriter
from kdsearch.search.recovery import recover_for_resume, repair_journal, restore_tune_state

SESSION = "2026-11-22_10-00-00"


def _tune_state(folder, trials: int) -> dict[str, bytes]:
    """Files shaped like Tune's (its search_gen_state "json" is in fact a pickle)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {f"experiment_state-{SESSION}.json": json.dumps({"trial_data": list(range(trials))}).encode(),
             f"search_gen_state-{SESSION}.json": pickle.dumps({"counter": trials}, protocol=4),
             f"searcher-state-{SESSION}.pkl": pickle.dumps({"trials": trials}, protocol=4)}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def test_half_written_journal_record_is_dropped_and_optuna_reads_on(tmp_path):
    path = tmp_path / "optuna.journal"
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    study = optuna.create_study(study_name="s", storage=storage)
    study.enqueue_trial({"x": 1.0})
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"op_code":6,"work')  # an append cut short by a full disk
    assert repair_journal(path) and path.read_bytes() == whole
    assert not repair_journal(path)  # a whole journal is left alone
    # Optuna can append and read back again (the glued line would have made it unreadable).
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    study = optuna.load_study(study_name="s", storage=storage)
    study.enqueue_trial({"x": 2.0})
    assert len(optuna.load_study(study_name="s", storage=storage).trials) == 2


def test_writer_backs_up_whole_tune_state_only(tmp_path):
    tune = tmp_path / "tune"
    writer = ResultsWriter(tmp_path, searched=["lr"], metric="val_acc7", mode="max", max_epochs=2, tune_dir=tune)
    good = _tune_state(tune, trials=3)
    writer.setup()  # writes (empty) tables, then copies Tune's state
    backup = tmp_path / TUNE_STATE_BACKUP
    assert {p.name: p.read_bytes() for p in backup.iterdir()} == good
    name = f"experiment_state-{SESSION}.json"
    (tune / name).write_bytes(good[name][:10])  # Tune caught mid-write (or by a full disk)
    writer.records.start("t1", {"lr": 0.1})
    writer.flush()
    assert (backup / name).read_bytes() == good[name]  # the last whole copy is kept


def test_resume_puts_back_the_last_whole_tune_state(tmp_path):
    tune = tmp_path / "tune"
    good = _tune_state(tmp_path / TUNE_STATE_BACKUP, trials=3)
    _tune_state(tune, trials=5)
    name = f"experiment_state-{SESSION}.json"
    (tune / name).write_bytes(b"")  # what a full disk left
    notes = recover_for_resume(tmp_path)
    assert len(notes) == 1 and "resuming from the last whole copy" in notes[0]
    assert {n: (tune / n).read_bytes() for n in good} == good
    assert (tune / f"{name}.damaged").read_bytes() == b""
    assert restore_tune_state(tmp_path) is None  # whole now: nothing more to do


def test_resume_refuses_damaged_tune_state_without_a_copy(tmp_path):
    _tune_state(tmp_path / "tune", trials=5)
    name = f"searcher-state-{SESSION}.pkl"
    data = (tmp_path / "tune" / name).read_bytes()
    (tmp_path / "tune" / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="cannot be resumed; its finished trials stay in trials.parquet"):
        restore_tune_state(tmp_path)
