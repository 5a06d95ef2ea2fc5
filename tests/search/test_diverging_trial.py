"""A trial whose loss becomes NaN fails alone, with its reason; the search goes on."""

import pyarrow.parquet as pq
import pytest
import yaml
from rich.console import Console

from kdsearch.search.driver import RunOptions, run_search
from kdsearch.spec.space import load_space

pytestmark = pytest.mark.slow

SPACE = """
name: nan
data: {synthetic: small, seed: 0}
teacher: {branch: complete, d_model: 8, heads: 2, layers: 1}
teacher_train: {epochs: 2, batch_size: 128, lr: 3.0e-3}   # the smoke space's teacher: found in warm_cache
student: {config: 5, d_model: 8, heads: 2, layers: 1}
distill: {method: edam, level: attention_maps}
train: {epochs: 2, batch_size: 256, lr: 3.0e-3}
params:
  train.lr: {type: categorical, choices: [0.003, 1.0e+30]}   # the second one diverges at once
search: {num_samples: 2, sampler: {name: grid}, max_failures: 0}
"""


def test_nan_trial_fails_alone_with_its_reason(tmp_path, warm_cache):
    path = tmp_path / "nan.yaml"
    path.write_text(SPACE)
    console = Console(record=True, width=200, force_terminal=False)
    outcome = run_search(load_space(str(path)), RunOptions(name="n", results_root=str(tmp_path / "results")), console)
    trials = pq.read_table(outcome.results_dir / "trials.parquet").to_pandas().set_index("train.lr")
    assert trials.loc[0.003, "status"] == "done"
    assert trials.loc[1e30, "status"] == "error"
    assert "loss became NaN/inf at epoch 1" in trials.loc[1e30, "error"]
    assert "loss became NaN/inf" in console.export_text()  # shown in the leaderboard
    assert yaml.safe_load((outcome.results_dir / "space.yaml").read_text())["search"]["max_failures"] == 0
