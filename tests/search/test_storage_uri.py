"""`--storage URI`: Tune's checkpoints go through pyarrow's filesystem to the URI (here a
`file://` URI, the same code path as `s3://`), while the parquet files and the leaderboard stay
in results/<name>/ on the driver."""

import pyarrow.parquet as pq
import pytest
import yaml
from rich.console import Console

from kdsearch.search.driver import RunOptions, run_search
from kdsearch.spec.space import load_space
from smoke_space import write_smoke_space

pytestmark = pytest.mark.slow


def test_checkpoints_go_to_the_storage_uri_and_results_stay_local(tmp_path, warm_cache):
    path = write_smoke_space(tmp_path / "s.yaml", search={"num_samples": 1}, train={"epochs": 2})
    shared = tmp_path / "bucket"
    uri = f"file://{shared}"
    opts = RunOptions(name="remote", results_root=str(tmp_path / "results"), storage=uri)
    outcome = run_search(load_space(str(path)), opts, Console(file=open(tmp_path / "log.txt", "w")))

    trials = pq.read_table(outcome.results_dir / "trials.parquet").to_pandas()
    assert len(trials) == 1 and trials["status"].iloc[0] == "done"
    assert outcome.results_dir == tmp_path / "results" / "remote"
    assert not (outcome.results_dir / "tune").exists()  # nothing of Tune's lands locally
    checkpoints = list((shared / "remote").glob("*/checkpoint_*/state.pt"))
    assert len(checkpoints) >= 1, sorted(p.name for p in (shared / "remote").iterdir())
    # A resume finds the checkpoints again without being told where they are.
    assert yaml.safe_load((outcome.results_dir / "space.yaml").read_text())["storage"] == uri
