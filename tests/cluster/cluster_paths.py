"""Paths of the shipped cluster files (imported by the tests in this folder)."""

from pathlib import Path

CLUSTER_DIR = Path(__file__).resolve().parents[2] / "cluster"
AWS = CLUSTER_DIR / "aws.yaml"
KUBERAY = CLUSTER_DIR / "kuberay.yaml"
