"""Fixtures of the fault tests: one tiny dataset for the whole session.

Every search here trains a no-KD student (loss.beta 0: no teacher to train) on a 256-sample
dataset, so a trial-epoch takes well under a second and the tests measure the fault handling,
not the training.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """A 256/64/64-sample synthetic dataset file (the `small` preset's shapes otherwise)."""
    from kdsearch.data.synthetic import generate

    path = tmp_path_factory.mktemp("faults-data") / "tiny.h5"
    generate(str(path), preset="small", seed=0, n_train=256, n_valid=64, n_test=64)
    return path
