"""Issue 10: a search over named teacher→student pairings and the labelled fraction runs as
`--smoke-test`, each trial recording its pairing and how many labels its task loss saw."""

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from kdsearch.spec.space import load_space

pytestmark = pytest.mark.slow

SPACES = sorted((Path(__file__).parents[2] / "search_spaces").glob("*.yaml"))


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.stem)
def test_every_shipped_space_validates(path):
    space = load_space(str(path))
    assert space.params or space.rows, f"{path.name} searches nothing"


def test_pairings_and_labelled_fraction_smoke_search(tmp_path):
    env = {**os.environ, "KDSEARCH_CACHE": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-m", "kdsearch", "run", "pairings", "--smoke-test", "--name", "p"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    trials = pq.read_table(tmp_path / "results" / "p" / "trials.parquet").to_pandas()
    assert len(trials) == 2 and set(trials.status) == {"done"}
    raw = yaml.safe_load((Path(__file__).parents[2] / "search_spaces" / "pairings.yaml").read_text())
    assert set(trials["row"]) <= set(raw["rows"])
    # The task loss saw the sampled fraction of the 2,000 training labels (the KD term saw all).
    for fraction, labelled in zip(trials["train.labelled_fraction"], trials["labelled"]):
        assert labelled == round(fraction * 2000)
