"""Broken copies of aws.yaml fail with Ray's own message, the file and the field."""

from __future__ import annotations

import pytest

from kdsearch.cluster import check_cluster_file
from kdsearch.errors import UserError

from cluster_paths import AWS


def fail(path: str) -> str:
    with pytest.raises(UserError) as info:
        check_cluster_file(path)
    message = info.value.message
    assert message.startswith(f"{path}: "), message
    return message


def test_typo_in_top_level_key_names_it_and_suggests(variant):
    path = variant(AWS, "\nupscaling_speed:", "\nupscalng_speed:")
    message = fail(path)
    assert f"{path}: upscalng_speed: Additional properties are not allowed ('upscalng_speed' was unexpected)" in message
    assert "did you mean 'upscaling_speed'" in message


def test_fractional_node_gpu_count_is_rejected_by_rays_schema(variant):
    path = variant(AWS, "resources: {CPU: 8, GPU: 1}", "resources: {CPU: 8, GPU: 0.5}")
    assert fail(path) == f"{path}: available_node_types.gpu1_ondemand.resources.GPU: 0.5 is not of type 'integer'"


def test_head_node_type_naming_no_node_type(variant):
    path = variant(AWS, "\nhead_node_type: head", "\nhead_node_type: cpu_head")
    message = fail(path)
    assert f"{path}: head_node_type: `head_node_type` must be one of `available_node_types`." in message
    assert "Got 'cpu_head'" in message and "gpu1_spot" in message


def test_absent_head_node_type_explains_rays_default(variant):
    path = variant(AWS, "\nhead_node_type: head\n", "\n")
    message = fail(path)
    assert f"{path}: head_node_type:" in message and "'ray.head.default' (Ray's default" in message


def test_node_type_without_node_config(variant):
    path = variant(AWS, "    node_config: &gpu8_node\n", "    node_confg: &gpu8_node\n")
    message = fail(path)
    # jsonschema reports either the missing or the unexpected key; both name the node type.
    assert f"{path}: available_node_types.gpu8_ondemand" in message
    assert "node_confg" in message or "'node_config' is a required property" in message


def test_min_workers_above_the_global_cap(variant):
    path = variant(AWS, "    min_workers: 0\n    max_workers: 4\n", "    min_workers: 9\n    max_workers: 9\n")
    assert "smaller than the sum of `min_workers`" in fail(path)
    assert fail(path).startswith(f"{path}: max_workers: ")


def test_unknown_provider_type(variant):
    path = variant(AWS, "  type: aws\n", "  type: awz\n")
    assert fail(path) == f"{path}: provider.type: Unsupported node provider: awz"


def test_node_types_as_a_list_gets_the_schema_message_not_a_traceback(write):
    path = write("cluster_name: x\nprovider: {type: aws, region: us-west-2}\navailable_node_types: [a, b]\n")
    assert fail(path) == f"{path}: available_node_types: ['a', 'b'] is not of type 'object'"


def test_missing_provider_type(write):
    path = write("cluster_name: x\nprovider: {region: us-west-2}\n")
    assert fail(path).startswith(f"{path}: provider: must be a mapping with a string `type`")


def test_auth_mode_mismatch_between_head_and_workers(variant):
    path = variant(
        AWS,
        "export RAY_AUTH_MODE=token; ray start --address",
        "export RAY_AUTH_MODE=disabled; ray start --address",
    )
    message = fail(path)
    assert message.startswith(f"{path}: worker_start_ray_commands: RAY_AUTH_MODE is token on the head")
    assert "disabled" in message and "InvalidAuthToken" in message


def test_duplicate_key_is_refused_with_both_lines(variant):
    path = variant(AWS, "\nmax_workers: 8\n", "\nmax_workers: 8\nmax_workers: 80\n")
    message = fail(path)
    assert "duplicate key 'max_workers'" in message and "invalid YAML" in message
    lines = AWS.read_text().splitlines()
    first = lines.index("max_workers: 8") + 1
    assert f"{path}: line {first + 1}: " in message and f"first on line {first}" in message


def test_yaml_anchor_merge_is_not_a_duplicate(write):
    path = write(
        "cluster_name: x\nprovider: {type: aws, region: us-west-2}\nhead_node_type: h\n"
        "available_node_types:\n"
        "  h: {resources: {}, node_config: &n {InstanceType: m5.large}}\n"
        "  w: {resources: {GPU: 1}, node_config: {<<: *n, InstanceType: g5.xlarge}}\n"
    )
    assert "1 head type, 1 worker type, max 2 workers, max 2 GPUs" in check_cluster_file(path)


def test_launcher_config_with_a_second_document(write):
    path = write("cluster_name: x\nprovider: {type: aws}\n---\ncluster_name: y\nprovider: {type: aws}\n")
    assert fail(path) == f"{path}: document 2: a Ray launcher config must be one YAML document"
