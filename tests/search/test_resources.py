"""Resource plans: what a search may use, how many trials run at once, and the refusals that
stand in for Ray's silent wait (a trial no node can hold is queued forever)."""

from types import SimpleNamespace

import pytest

from kdsearch.errors import UserError
from kdsearch.search.resources import plan_resources


def space(cpus_per_trial=1, gpus_per_trial=0.25, max_concurrent=0):
    return SimpleNamespace(resources={"cpus_per_trial": cpus_per_trial, "gpus_per_trial": gpus_per_trial},
                           search={"max_concurrent": max_concurrent})


def opts(cpus=None, gpus=None):
    return SimpleNamespace(cpus=cpus, gpus=gpus)


HEAD = {"CPU": 8, "GPU": 0}
GPU_NODE = {"CPU": 16, "GPU": 4}


def test_a_cluster_plan_takes_the_clusters_totals_by_default():
    plan = plan_resources(space(), opts(), nodes=[HEAD, GPU_NODE, GPU_NODE])
    assert (plan.cpus, plan.gpus, plan.gpus_per_trial) == (40, 8, 0.25)
    assert plan.max_concurrent == 32  # 16 per GPU node (4 GPUs x 4 trials, 16 CPUs); none on the head


def test_gpus_asked_for_cap_the_cluster():
    plan = plan_resources(space(), opts(gpus=2), nodes=[HEAD, GPU_NODE, GPU_NODE])
    assert plan.gpus == 2 and plan.max_concurrent == 8


def test_more_gpus_than_the_cluster_has_is_refused():
    with pytest.raises(UserError, match="asked for 16 GPU\\(s\\) but the Ray cluster has 8") as info:
        plan_resources(space(), opts(gpus=16), nodes=[HEAD, GPU_NODE, GPU_NODE])
    assert info.value.field == "--gpus"


def test_a_trial_wanting_more_gpus_than_the_search_may_use_is_refused():
    with pytest.raises(UserError, match="a trial needs 3 GPU\\(s\\) but the search may use 2") as info:
        plan_resources(space(gpus_per_trial=3), opts(gpus=2), nodes=[GPU_NODE])
    assert info.value.field == "resources.gpus_per_trial"


def test_a_trial_no_single_node_can_hold_is_refused():
    # 8 GPUs in all, but 4 per node: Ray would queue a 6-GPU trial forever.
    with pytest.raises(UserError, match="no node of the Ray cluster can hold one trial") as info:
        plan_resources(space(gpus_per_trial=6), opts(), nodes=[GPU_NODE, GPU_NODE])
    assert "largest has 16 CPU, 4 GPU" in info.value.problem


def test_cpu_only_cluster_counts_trials_per_node():
    plan = plan_resources(space(cpus_per_trial=3), opts(), nodes=[{"CPU": 4}, {"CPU": 4}])
    assert plan.gpus == 0 and plan.max_concurrent == 2  # 1 per node, not 8 // 3
    assert "No GPU in use" in plan.describe()


def test_local_plan_without_gpus_runs_on_cpu():
    plan = plan_resources(space(), opts(cpus=2, gpus=0))
    assert (plan.cpus, plan.gpus, plan.gpus_per_trial, plan.max_concurrent) == (2, 0, 0.0, 2)


def test_max_concurrent_caps_the_slots():
    assert plan_resources(space(max_concurrent=3), opts(), nodes=[GPU_NODE]).max_concurrent == 3


def packed(k, config=None, **kw):
    s = space(**kw)
    s.resources["students_per_worker"] = k
    s.config = config or {"kind": "distill", "loss": {"beta": 1.0}, "distill": {"method": "edam"}, "train": {}}
    return s


def test_packing_runs_k_trials_per_worker_and_the_pack_holds_the_worker():
    plan = plan_resources(packed(4), opts(), nodes=[HEAD, GPU_NODE])
    assert plan.packed and plan.workers == 16 and plan.max_concurrent == 64  # 16 workers x 4 students
    cpus, gpus = plan.pack_resources
    client = plan.trial_resources
    assert client["gpu"] == 0 and 4 * client["cpu"] + cpus == pytest.approx(1.0) and gpus == 0.25
    assert "up to 4 students packed per worker" in plan.describe() and "GPU per worker" in plan.describe()
    assert plan_resources(packed(4, max_concurrent=6), opts(), nodes=[GPU_NODE]).workers == 2  # ceil(6 / 4)


def test_packing_a_space_that_cannot_pack_says_why_and_a_sliver_of_a_worker_is_refused():
    dmd = plan_resources(packed(4, config={"kind": "dmd"}), opts(), nodes=[GPU_NODE])
    assert "Packing: trials of this space train one per worker: kind dmd" in dmd.describe()
    with pytest.raises(UserError) as err:
        plan_resources(packed(4, cpus_per_trial=0.01), opts(), nodes=[GPU_NODE])
    assert err.value.field == "resources.cpus_per_trial"
