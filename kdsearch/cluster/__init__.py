"""Cluster files for many machines: offline checks before `ray up` or `kubectl apply`."""

from kdsearch.cluster.check import check_cluster_file, cluster_check_command

__all__ = ["check_cluster_file", "cluster_check_command"]
