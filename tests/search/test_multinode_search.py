"""A real multi-node Ray cluster on one machine: a head and two worker nodes with logical GPUs.

Trials land on both worker nodes (node ids recorded per trial); each node pulls the teacher
object once (trials record whether their node already held a copy); removing one worker
mid-search leaves the search to finish on the other, its interrupted trials resumed from their
checkpoints.
"""

import threading
import time

import pyarrow.parquet as pq
import pytest
import ray
from ray.cluster_utils import Cluster
from rich.console import Console

from kdsearch.search.driver import RunOptions, run_search
from kdsearch.spec.space import load_space
from smoke_space import write_smoke_space

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster():
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0})
    workers = [c.add_node(num_cpus=1, num_gpus=1, object_store_memory=200 * 2**20) for _ in range(2)]
    c.wait_for_nodes()
    yield c, workers
    ray.shutdown()
    c.shutdown()


def test_trials_spread_over_workers_and_survive_losing_one(tmp_path, warm_cache, cluster):
    c, workers = cluster
    path = write_smoke_space(tmp_path / "multi.yaml",
                             search={"num_samples": 6, "max_failures": 3, "scheduler": {"name": "fifo"}},
                             train={"epochs": 5},  # room to catch a trial mid-way
                             resources={"cpus_per_trial": 1, "gpus_per_trial": 0.5})
    space = load_space(str(path))
    opts = RunOptions(name="multi", results_root=str(tmp_path / "results"), address=c.address, gpus=2)
    outcome: dict = {}

    def drive():
        try:
            outcome["result"] = run_search(space, opts, Console(file=open(tmp_path / "log.txt", "w"), width=200))
        except BaseException as exc:  # surfaced by the assertion below
            outcome["error"] = exc

    driver = threading.Thread(target=drive)
    driver.start()
    results = tmp_path / "results" / "multi"
    doomed = workers[0].node_id
    deadline = time.time() + 300
    while time.time() < deadline:
        # Remove the node while one of its trials is mid-way: it has a checkpoint (an epoch
        # recorded) and epochs still to run, so its retry must resume from that checkpoint.
        time.sleep(0.5)
        try:
            epochs = pq.read_table(results / "epochs.parquet").to_pandas()
        except Exception:
            continue
        if "node_id" not in epochs.columns or epochs["node_id"].nunique() < 2:
            continue
        mid_way = epochs.groupby("trial_id").agg(node=("node_id", "last"), done=("epoch", "max"))
        if ((mid_way["node"] == doomed) & (mid_way["done"] >= 1) & (mid_way["done"] <= 2)).any():
            break
    c.remove_node(workers[0], allow_graceful=False)
    driver.join(timeout=600)
    assert not driver.is_alive()
    assert "error" not in outcome, outcome.get("error")

    trials = pq.read_table(results / "trials.parquet").to_pandas()
    epochs = pq.read_table(results / "epochs.parquet").to_pandas()
    assert len(trials) == 6
    assert set(trials["status"]) == {"done"}, trials[["trial_id", "status", "error"]]
    assert epochs["node_id"].nunique() == 2  # both worker nodes trained trials
    assert not epochs.duplicated(["trial_id", "epoch"]).any()
    assert (trials["epochs"] == 5).all()
    # At least one trial was interrupted by the node loss and resumed from its checkpoint.
    assert "resumed_from_epoch" in epochs.columns and epochs["resumed_from_epoch"].notna().any()
    # Each worker node pulled the teacher object once: its first trial found no copy there, every
    # later one (a new process or a reused one, a resumed trial included) found the copy in place.
    assert epochs["teacher_fetched"].notna().all()
    ran = epochs.dropna(subset=["node_id"]).groupby(["node_id", "trial_id"])["teacher_fetched"].max()
    assert ran.groupby("node_id").sum().to_dict() == {node: 1 for node in ran.index.unique("node_id")}, ran
