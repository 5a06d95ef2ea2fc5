"""`kdsearch run --warm-start results/<old>`: the new study begins with the old study's finished
trials (real searches, real journals), misfits are refused with one line, and the leaderboard
marks the imported trials."""

import optuna
import pytest
from rich.console import Console

from kdsearch.cli import main
from kdsearch.errors import UserError
from kdsearch.spec.space import load_space
from kdsearch.spec.warm_start import warm_trials
from smoke_space import write_smoke_space

pytestmark = pytest.mark.slow


def _study(folder):
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(folder / "optuna.journal")))
    return optuna.load_study(study_name=folder.name, storage=storage)


@pytest.fixture
def old(two_trial_search):
    """The session's finished 2-trial search (tests/shared_searches.py); tests add folders beside it."""
    return two_trial_search


def test_new_study_starts_with_the_old_trials_and_the_leaderboard_marks_them(old, tmp_path, warm_cache, capsys):
    space = write_smoke_space(tmp_path / "s2.yaml", search={"num_samples": 1}, train={"epochs": 1})
    assert main(["run", str(space), "--name", "new", "--results-dir", str(old.parent), "--warm-start", str(old)]) == 0
    before = _study(old).trials
    trials = _study(old.parent / "new").trials
    imported = [t for t in trials if t.user_attrs.get("warm_start_from") == old.name]
    assert len(trials) == 3 and len(imported) == 2
    assert sorted(t.params["loss.beta"] for t in imported) == sorted(t.params["loss.beta"] for t in before)
    assert sorted(t.value for t in imported) == sorted(t.value for t in before if t.value is not None)
    capsys.readouterr()
    from kdsearch.results.leaderboard import leaderboard_command

    console = Console(record=True, width=220, force_terminal=False)
    leaderboard_command(old.parent / "new", console=console)
    text = console.export_text()
    assert text.count(f"imported from {old.name}") == 2 and "done" in text


def test_parameters_that_do_not_fit_are_refused_with_one_line(old, tmp_path):
    narrow = write_smoke_space(tmp_path / "narrow.yaml",
                               params={"loss.beta": {"type": "float", "low": 5.0, "high": 6.0}})
    with pytest.raises(UserError, match=r"--warm-start: parameters that do not fit this space: loss.beta=.*outside"):
        warm_trials(old, load_space(str(narrow)))
    fewer = write_smoke_space(tmp_path / "fewer.yaml")
    space = load_space(str(fewer))
    del space.params["distill.temperature"]
    with pytest.raises(UserError, match=r"distill.temperature \(not searched in"):
        warm_trials(old, space)


def test_cli_refusal_exits_2_before_anything_is_written(old, tmp_path, cache_dir, capsys):
    narrow = write_smoke_space(tmp_path / "narrow2.yaml",
                               params={"loss.beta": {"type": "float", "low": 5.0, "high": 6.0}})
    assert main(["run", str(narrow), "--name", "never", "--results-dir", str(old.parent),
                 "--warm-start", str(old)]) == 2
    assert "loss.beta" in capsys.readouterr().err and not (old.parent / "never").exists()
