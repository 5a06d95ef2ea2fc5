"""Broken copies of kuberay.yaml fail naming the file, the document and the field path."""

from __future__ import annotations

import pytest

from kdsearch.cluster import check_cluster_file
from kdsearch.errors import UserError

from cluster_paths import KUBERAY

GPU8_LIMITS = "limits: {cpu: \"64\", memory: 480Gi, nvidia.com/gpu: 8}"
GPU8_REQUESTS = "requests: {cpu: \"64\", memory: 480Gi, nvidia.com/gpu: 8}"


def fail(path: str) -> str:
    with pytest.raises(UserError) as info:
        check_cluster_file(path)
    message = info.value.message
    assert message.startswith(f"{path}: document "), message
    return message


def test_worker_group_without_group_name(variant):
    path = variant(KUBERAY, "    - groupName: gpu-8\n", "    - name: gpu-8\n")
    assert fail(path) == f"{path}: document 2: spec.workerGroupSpecs[1].groupName: missing or empty"


def test_replicas_above_max_replicas(variant):
    path = variant(KUBERAY, "      replicas: 0\n", "      replicas: 9\n")
    expected = f"{path}: document 2: spec.workerGroupSpecs[0].replicas: 9 is outside minReplicas..maxReplicas (0..8)"
    assert fail(path) == expected


def test_min_replicas_above_max_replicas(variant):
    path = variant(KUBERAY, "      minReplicas: 0\n      maxReplicas: 8", "      minReplicas: 9\n      maxReplicas: 8")
    assert fail(path) == f"{path}: document 2: spec.workerGroupSpecs[0].minReplicas: 9 is above maxReplicas 8"


def test_unbounded_worker_group_is_refused(variant):
    path = variant(KUBERAY, "      maxReplicas: 1            # EDIT\n", "")
    assert fail(path).startswith(f"{path}: document 2: spec.workerGroupSpecs[1].maxReplicas: missing")


def test_replicas_must_be_whole_numbers(variant):
    path = variant(KUBERAY, "      maxReplicas: 8 ", "      maxReplicas: \"8\" ")
    assert fail(path) == f"{path}: document 2: spec.workerGroupSpecs[0].maxReplicas: '8' is not a whole number >= 0"


def test_fractional_gpu_limit(variant):
    path = variant(KUBERAY, GPU8_LIMITS, GPU8_LIMITS.replace("gpu: 8", "gpu: 0.5"))
    field = 'spec.workerGroupSpecs[1].template.spec.containers[0].resources.limits["nvidia.com/gpu"]'
    assert fail(path) == f"{path}: document 2: {field}: 0.5 is not a whole number of GPUs"


def test_gpu_requests_must_equal_limits(variant):
    path = variant(KUBERAY, GPU8_REQUESTS, GPU8_REQUESTS.replace("gpu: 8", "gpu: 4"))
    message = fail(path)
    assert 'containers[0].resources.limits["nvidia.com/gpu"]: 8 differs from requests (4)' in message


def test_string_gpu_count_is_accepted(variant):
    path = variant(KUBERAY, GPU8_LIMITS, GPU8_LIMITS.replace("gpu: 8", "gpu: \"8\""))
    assert "max 16 GPUs" in check_cluster_file(path)


def test_head_without_image(variant):
    path = variant(KUBERAY, "          - name: ray-head\n            image: YOUR-REGISTRY/kdsearch:0.1.0",
                   "          - name: ray-head")
    assert fail(path) == f"{path}: document 2: spec.headGroupSpec.template.spec.containers[0].image: missing or empty"


def test_ray_start_params_must_be_strings(variant):
    path = variant(KUBERAY, 'num-cpus: "0"', "num-cpus: 0")
    message = fail(path)
    assert message.startswith(f"{path}: document 2: spec.headGroupSpec.rayStartParams.num-cpus: 0 must be a string")


def test_job_without_entrypoint(variant):
    path = variant(KUBERAY, "  entrypoint: >-", "  command: >-")
    assert fail(path).startswith(f"{path}: document 3: spec.entrypoint: missing or empty")


def test_job_without_a_cluster(variant):
    path = variant(KUBERAY, "  clusterSelector:\n    ray.io/cluster: kdsearch\n", "")
    assert fail(path).startswith(f"{path}: document 3: spec: needs rayClusterSpec")


def test_job_selecting_a_cluster_not_in_the_file(variant):
    path = variant(KUBERAY, "    ray.io/cluster: kdsearch\n", "    ray.io/cluster: kdsearh\n")
    message = fail(path)
    assert message.startswith(f'{path}: document 3: spec.clusterSelector["ray.io/cluster"]: \'kdsearh\' names no RayCluster')


def test_job_with_its_own_cluster_spec_is_checked_too(write):
    path = write(
        "apiVersion: ray.io/v1\nkind: RayJob\nmetadata: {name: j}\nspec:\n"
        "  entrypoint: kdsearch run edam --address auto\n"
        "  rayClusterSpec:\n"
        "    headGroupSpec: {template: {spec: {containers: [{name: h, image: img}]}}}\n"
        "    workerGroupSpecs:\n"
        "      - {groupName: g, replicas: 3, minReplicas: 0, maxReplicas: 2,\n"
        "         template: {spec: {containers: [{name: w, image: img}]}}}\n"
    )
    expected = f"{path}: document 1: spec.rayClusterSpec.workerGroupSpecs[0].replicas: 3 is outside"
    assert fail(path).startswith(expected)


def test_unknown_ray_kind_and_missing_name(variant, tmp_path):
    path = variant(KUBERAY, "kind: RayJob", "kind: RayJobs")
    assert fail(path) == f"{path}: document 3: kind: 'RayJobs' is not one of RayCluster, RayJob, RayService"
    path = variant(KUBERAY, "  name: kdsearch-edam\n", "  labels: {app: kdsearch}\n", name="noname.yaml")
    assert fail(path) == f"{path}: document 3: metadata.name: missing or empty"


def test_other_kubernetes_documents_need_api_version_and_kind(variant):
    path = variant(KUBERAY, "apiVersion: v1\nkind: ServiceAccount\n", "apiVersion: v1\n")
    assert fail(path).startswith(f"{path}: document 1: kind: missing")
