"""The shipped cluster files pass, and pass for Ray itself (not only for our checker)."""

from __future__ import annotations

import copy
import re
import sys

import pytest
import yaml

from kdsearch.cluster import check_cluster_file
from kdsearch.cluster._secrets import find_secret

from cluster_paths import AWS, CLUSTER_DIR, KUBERAY

SHIPPED = sorted(CLUSTER_DIR.glob("*.yaml"))


def test_both_templates_are_shipped():
    assert {p.name for p in SHIPPED} >= {"aws.yaml", "kuberay.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_cluster_file_passes(path):
    summary = check_cluster_file(str(path))
    assert summary.startswith(f"{path}: OK (")
    assert find_secret(path.read_text()) is None


def test_aws_summary_counts_types_and_gpus():
    summary = check_cluster_file(str(AWS))
    # 1-GPU types x8 and x4, 8-GPU types x1 and x2, global cap 8 workers: 3*8 + 5*1 = 29 GPUs.
    assert "provider aws: 1 head type, 4 worker types (2 spot), max 8 workers, max 29 GPUs" in summary


def test_aws_yaml_passes_ray_prepare_and_validate_offline():
    from ray.autoscaler._private.util import prepare_config, validate_config

    raw = yaml.safe_load(AWS.read_text())
    prepared = prepare_config(copy.deepcopy(raw))
    validate_config(prepared)
    # Offline: no cloud SDK was needed (boto3 is not even installed here).
    assert "boto3" not in sys.modules
    assert prepared["head_node_type"] == "head"
    assert prepared["available_node_types"]["head"]["max_workers"] == 0


def test_aws_yaml_has_the_promised_shape():
    cfg = yaml.safe_load(AWS.read_text())
    workers = {k: v for k, v in cfg["available_node_types"].items() if k != cfg["head_node_type"]}
    spot = {k for k, v in workers.items() if v["node_config"].get("InstanceMarketOptions") == {"MarketType": "spot"}}
    assert spot == {"gpu1_spot", "gpu8_spot"}
    assert {v["resources"]["GPU"] for v in workers.values()} == {1, 8}
    assert all(v["min_workers"] == 0 for v in workers.values())
    assert all("IamInstanceProfile" in v["node_config"] for v in workers.values())
    assert cfg["idle_timeout_minutes"] > 0 and cfg["upscaling_speed"] > 0
    # Same auth mode on head and workers (Ray 2.60 nodes with different modes cannot join).
    mode = re.compile(r"RAY_AUTH_MODE=(\w+)")
    head = {m for c in cfg["head_start_ray_commands"] for m in mode.findall(c)}
    worker = {m for c in cfg["worker_start_ray_commands"] for m in mode.findall(c)}
    assert head == worker == {"token"}
    setup = "\n".join(cfg["setup_commands"])
    assert "download.pytorch.org/whl/cu" in setup and "KDSEARCH_STORAGE=s3://" in setup


def test_kuberay_yaml_has_cluster_and_job():
    docs = list(yaml.safe_load_all(KUBERAY.read_text()))
    kinds = [d["kind"] for d in docs]
    assert kinds == ["ServiceAccount", "RayCluster", "RayJob"]
    cluster, job = docs[1], docs[2]
    assert cluster["apiVersion"] == "ray.io/v1" and cluster["spec"]["enableInTreeAutoscaling"] is True
    assert cluster["spec"]["authOptions"]["mode"] == "token"
    gpu_limits = [
        c["resources"]["limits"]["nvidia.com/gpu"]
        for g in cluster["spec"]["workerGroupSpecs"]
        for c in g["template"]["spec"]["containers"]
    ]
    assert gpu_limits == [1, 8]
    assert job["spec"]["clusterSelector"] == {"ray.io/cluster": cluster["metadata"]["name"]}
    entry = job["spec"]["entrypoint"]
    assert "kdsearch run search_spaces/edam.yaml --address auto --gpus" in entry and "--storage s3://" in entry
    summary = check_cluster_file(str(KUBERAY))
    assert "RayCluster kdsearch (2 worker groups, max 16 GPUs)" in summary
    assert "RayJob kdsearch-edam (on kdsearch)" in summary
