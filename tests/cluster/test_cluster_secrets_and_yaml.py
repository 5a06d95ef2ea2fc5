"""Credentials are refused (by line, without echoing them); malformed YAML names file and line."""

from __future__ import annotations

import pytest

from kdsearch.cluster import check_cluster_file
from kdsearch.cluster._secrets import find_secret
from kdsearch.errors import UserError

from cluster_paths import AWS, KUBERAY

# Built from parts so this test file itself does not look like it holds a key.
FAKE_KEY_ID = "AKIA" + "Z" * 16
FAKE_SECRET = "wJalr" + "X" * 35


def fail(path: str) -> str:
    with pytest.raises(UserError) as info:
        check_cluster_file(path)
    return info.value.message


def line_of(path: str, needle: str) -> int:
    lines = open(path).read().splitlines()
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


def test_access_key_id_in_a_comment_is_refused(variant):
    path = variant(AWS, "cluster_name: kdsearch\n", f"cluster_name: kdsearch\n# old key {FAKE_KEY_ID}\n")
    message = fail(path)
    assert message.startswith(f"{path}: line {line_of(path, FAKE_KEY_ID)}: looks like an AWS access key id")
    assert FAKE_KEY_ID not in message  # never echo the secret


def test_secret_access_key_in_provider_is_refused(variant):
    path = variant(AWS, "  type: aws\n", f"  type: aws\n  aws_secret_access_key: {FAKE_SECRET}\n")
    message = fail(path)
    assert message.startswith(f"{path}: line {line_of(path, 'aws_secret_access_key')}: looks like aws_secret_access_key")
    assert FAKE_SECRET not in message


def test_exported_secret_in_setup_commands_is_refused(variant):
    path = variant(AWS, "  - pip install -q -U pip\n", f"  - export AWS_SECRET_ACCESS_KEY={FAKE_SECRET}\n")
    assert f"line {line_of(path, 'AWS_SECRET_ACCESS_KEY')}: looks like AWS_SECRET_ACCESS_KEY" in fail(path)


def test_kubernetes_env_with_literal_secret_is_refused(variant):
    env = "              - name: KDSEARCH_STORAGE\n"
    bad = f"              - name: AWS_SECRET_ACCESS_KEY\n                value: {FAKE_SECRET}\n" + env
    path = variant(KUBERAY, env, bad)
    message = fail(path)
    assert message.startswith(f"{path}: line {line_of(path, 'AWS_SECRET_ACCESS_KEY')}: looks like AWS_SECRET_ACCESS_KEY")


def test_password_and_private_key_are_refused(write):
    assert "looks like a password" in fail(write("provider: {type: aws}\nauth: {ssh_password: hunter2}\n"))
    key = "-----BEGIN OPENSSH " + "PRIVATE KEY-----"
    assert "line 2: looks like a private key" in fail(write(f"cluster_name: x\n# {key}\n", name="k.yaml"))


@pytest.mark.parametrize(
    "text",
    [
        "- name: AWS_SECRET_ACCESS_KEY\n  valueFrom: {secretKeyRef: {name: aws, key: secret}}\n",
        "env: AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY\n",
        'aws_access_key_id: ""\n',
        "password:\n  secretRef: db\n",
        "# nodes get credentials from an IAM instance profile, no aws_secret_access_key here\n",
    ],
)
def test_references_and_mentions_are_not_secrets(text):
    assert find_secret(text) is None


def test_malformed_yaml_names_file_and_line(variant):
    path = variant(AWS, "max_workers: 8\n", "max_workers: 8\n  bad: [1,\n")
    message = fail(path)
    assert message.startswith(f"{path}: line {line_of(path, 'bad: [1,')}: invalid YAML: ")
    assert "mapping values are not allowed here" in message


def test_unclosed_flow_sequence_names_a_line(write):
    path = write("cluster_name: x\nprovider: {type: aws\nmax_workers: 2\n")
    assert fail(path).startswith(f"{path}: line ")


def test_empty_and_foreign_files(write):
    assert fail(write("---\n", name="empty.yaml")).endswith("empty.yaml: empty file")
    path = write("a: 1\n", name="other.yaml")
    assert fail(path).startswith(f"{path}: not a Ray cluster file")


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.yaml")
    assert fail(path) == f"{path}: no such cluster file"
