"""Real searches that several test modules only read, each run once per session (tests/conftest.py
holds the fixtures). A search costs a Ray start, a teacher and its trials (10-20 s on two cores);
tests that assert different things about the same kind of search share one instead of each
running its own. Tests that write next to a shared search write new files or folders only.

Importable from every test folder: tests/ is on sys.path because tests/conftest.py lives there.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from smoke_space import write_smoke_space

SMOKE_TRIALS = 6  # enough trials under ASHA (3 epochs, grace 1) that some are stopped early
TWO_TRIALS = 2


@dataclass
class SmokeSearch:
    """The bundled smoke space (ASHA, TPE, 3 epochs, a 2-epoch teacher) over SMOKE_TRIALS trials,
    from a cold cache."""

    space: object  # kdsearch.spec.space.Space
    outcome: object  # kdsearch.search.driver.SearchOutcome
    text: str  # what the driver printed
    cache: Path  # its KDSEARCH_CACHE: the dataset, the trained teacher and its targets


def run_smoke_search(root: Path) -> SmokeSearch:
    from rich.console import Console

    from kdsearch.search.driver import RunOptions, run_search
    from kdsearch.spec.space import load_space

    cache = root / "cache"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KDSEARCH_CACHE", str(cache))
        space = load_space(str(write_smoke_space(root / "tiny.yaml", search={"num_samples": SMOKE_TRIALS})))
        console = Console(record=True, width=160, force_terminal=False)
        outcome = run_search(space, RunOptions(name="tiny", results_root=str(root / "results")), console)
    return SmokeSearch(space, outcome, console.export_text(), cache)


def copy_warm_cache(smoke: SmokeSearch, dest: Path) -> Path:
    """A private copy of the cache the smoke search left: a search of the smoke space's teacher on
    its dataset finds both there, as a second search on the same machine does. For tests whose
    subject is not the first, cold search (test_run_search and test_cli_run prove that one)."""
    shutil.copytree(smoke.cache, dest)
    return dest


def run_two_trial_search(root: Path, smoke: SmokeSearch) -> Path:
    """`kdsearch run` (in-process) of the smoke space: 2 trials of 2 epochs under FIFO, so both
    finish and both have a value in the Optuna study; logged to TensorBoard and MLflow when those
    extras are installed. Returns results/two/."""
    from kdsearch.cli import main

    space = write_smoke_space(root / "two.yaml", search={"num_samples": TWO_TRIALS, "scheduler": {"name": "fifo"}},
                              train={"epochs": 2})
    logs = [a for name in ("tensorboard", "mlflow") if importlib.util.find_spec(name) for a in ("--log", name)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KDSEARCH_CACHE", str(copy_warm_cache(smoke, root / "cache")))
        assert main(["run", str(space), "--name", "two", "--results-dir", str(root / "results"), *logs]) == 0
    return root / "results" / "two"
