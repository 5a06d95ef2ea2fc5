"""Cluster files for running kdsearch on many machines: offline checks before `ray up` / `kubectl apply`."""

from kdsearch.cluster.check import check_cluster_file, cluster_check_command

__all__ = ["check_cluster_file", "cluster_check_command"]
