"""Check KubeRay manifests (RayCluster, RayJob, RayService) before `kubectl apply`.

KubeRay validates in the operator, after the apply: a RayJob whose cluster spec is wrong sits in
a failed state, and a worker group with replicas above maxReplicas is only reported in the
operator's log. These checks cover what a search needs to start at all (images, group bounds,
whole-number GPU limits, an entrypoint, a cluster to run on) and name the document (1-based, in
file order) and the field path. Documents of other API groups (a ServiceAccount, a Secret
reference) are allowed and only counted.
"""

from __future__ import annotations

from typing import Any

from kdsearch.cluster._fields import dotted
from kdsearch.errors import UserError, short

RAY_KINDS = ("RayCluster", "RayJob", "RayService")
_GPU = "nvidia.com/gpu"


class _Doc:
    """One document being checked: raises errors prefixed with `document N` and a field path."""

    def __init__(self, path: str, index: int, body: dict):
        self.path, self.index, self.body = path, index, body

    def fail(self, where: list, problem: str) -> UserError:
        field = f"document {self.index}: {dotted(where) or '(root)'}"
        return UserError(problem, file=self.path, field=field)


def is_kuberay_doc(doc: Any) -> bool:
    """True for a mapping whose apiVersion is in the ray.io API group."""
    return isinstance(doc, dict) and str(doc.get("apiVersion", "")).startswith("ray.io/")


def check_kuberay_docs(docs: list[Any], path: str) -> str:
    """Check every document of a KubeRay manifest file.

    Args:
        docs: The YAML documents in file order (empty documents already dropped).
        path: The file's path, for messages.

    Returns:
        A short description, e.g. "KubeRay manifest: RayCluster kdsearch (2 worker groups, max
        16 GPUs), RayJob kdsearch-edam, 1 other document".

    Raises:
        UserError: naming `document N: field.path` and the problem.
    """
    parts, others = [], 0
    clusters = {d["metadata"]["name"] for d in docs if _is_named(d, "RayCluster")}
    for index, body in enumerate(docs, start=1):
        if not isinstance(body, dict):
            raise UserError("a YAML document must be a mapping", file=path, field=f"document {index}")
        doc = _Doc(path, index, body)
        if not is_kuberay_doc(body):
            for key in ("apiVersion", "kind"):
                if not isinstance(body.get(key), str):
                    raise doc.fail([key], "missing (every Kubernetes object needs apiVersion and kind)")
            others += 1
            continue
        parts.append(_check_ray_object(doc, clusters))
    if others:
        parts.append(f"{others} other document{'s' if others > 1 else ''}")
    return "KubeRay manifest: " + ", ".join(parts)


def _is_named(doc: Any, kind: str) -> bool:
    return (
        is_kuberay_doc(doc)
        and doc.get("kind") == kind
        and isinstance(doc.get("metadata"), dict)
        and isinstance(doc["metadata"].get("name"), str)
    )


def _check_ray_object(doc: _Doc, clusters: set[str]) -> str:
    kind = doc.body.get("kind")
    if kind not in RAY_KINDS:
        raise doc.fail(["kind"], f"{short(kind)} is not one of {', '.join(RAY_KINDS)}")
    name = _mapping(doc, doc.body, ["metadata"]).get("name")
    if not isinstance(name, str) or not name:
        raise doc.fail(["metadata", "name"], "missing or empty")
    spec = _mapping(doc, doc.body, ["spec"])
    if kind == "RayCluster":
        return f"RayCluster {name} ({_check_cluster_spec(doc, spec, ['spec'])})"
    if kind == "RayService":
        cluster = _mapping(doc, spec, ["spec", "rayClusterConfig"])
        return f"RayService {name} ({_check_cluster_spec(doc, cluster, ['spec', 'rayClusterConfig'])})"
    return f"RayJob {name}" + _check_job_spec(doc, spec, clusters)


def _check_job_spec(doc: _Doc, spec: dict, clusters: set[str]) -> str:
    entrypoint = spec.get("entrypoint")
    if not isinstance(entrypoint, str) or not entrypoint.strip():
        raise doc.fail(["spec", "entrypoint"], "missing or empty: the command the job runs")
    if "rayClusterSpec" in spec:
        cluster = _mapping(doc, spec, ["spec", "rayClusterSpec"])
        return f" ({_check_cluster_spec(doc, cluster, ['spec', 'rayClusterSpec'])})"
    selector = spec.get("clusterSelector")
    if not isinstance(selector, dict) or not selector:
        raise doc.fail(["spec"], "needs rayClusterSpec (a new cluster) or clusterSelector (an existing one)")
    target = selector.get("ray.io/cluster")
    # Only judge the selector against clusters defined in this same file; others may exist.
    if clusters and target not in clusters:
        raise doc.fail(
            ["spec", "clusterSelector", "ray.io/cluster"],
            f"{short(target)} names no RayCluster in this file (defined: {', '.join(sorted(clusters))}); "
            "the job would wait forever",
        )
    return f" (on {target})" if target else ""


def _check_cluster_spec(doc: _Doc, spec: dict, where: list) -> str:
    head = _mapping(doc, spec, where + ["headGroupSpec"])
    _check_ray_start_params(doc, head, where + ["headGroupSpec"])
    gpus = _check_pod_template(doc, head, where + ["headGroupSpec"])
    groups = spec.get("workerGroupSpecs", [])
    if not isinstance(groups, list):
        raise doc.fail(where + ["workerGroupSpecs"], "must be a list of worker groups")
    names: set[str] = set()
    for i, group in enumerate(groups):
        at = where + ["workerGroupSpecs", i]
        if not isinstance(group, dict):
            raise doc.fail(at, "must be a mapping")
        name = group.get("groupName")
        if not isinstance(name, str) or not name:
            raise doc.fail(at + ["groupName"], "missing or empty")
        if name in names:
            raise doc.fail(at + ["groupName"], f"{short(name)} is used by two worker groups")
        names.add(name)
        max_replicas = _check_replicas(doc, group, at)
        _check_ray_start_params(doc, group, at)
        gpus += max_replicas * _check_pod_template(doc, group, at)
    plural = "s" if len(groups) != 1 else ""
    return f"{len(groups)} worker group{plural}, max {gpus} GPUs"


def _check_replicas(doc: _Doc, group: dict, at: list) -> int:
    """Check minReplicas <= replicas <= maxReplicas (whole numbers) and return maxReplicas."""
    if "maxReplicas" not in group:
        # KubeRay would default it to 2^31-1: unbounded GPU pods is never what a search wants.
        raise doc.fail(at + ["maxReplicas"], "missing: set an upper bound on this group's pods")
    values = {}
    for key, default in (("minReplicas", 0), ("maxReplicas", None), ("replicas", None)):
        value = group.get(key, default)
        if value is None:  # replicas defaults to minReplicas
            value = values["minReplicas"]
        if not _is_count(value):
            raise doc.fail(at + [key], f"{short(value)} is not a whole number >= 0")
        values[key] = value
    low, mid, high = values["minReplicas"], values["replicas"], values["maxReplicas"]
    if low > high:
        raise doc.fail(at + ["minReplicas"], f"{low} is above maxReplicas {high}")
    if not low <= mid <= high:
        raise doc.fail(at + ["replicas"], f"{mid} is outside minReplicas..maxReplicas ({low}..{high})")
    return high


def _check_ray_start_params(doc: _Doc, group: dict, at: list) -> None:
    # KubeRay v1 types rayStartParams as map[string]string: `num-cpus: 0` is rejected on apply.
    params = group.get("rayStartParams", {})
    if not isinstance(params, dict):
        raise doc.fail(at + ["rayStartParams"], "must be a mapping of strings")
    for key, value in params.items():
        if not isinstance(value, str):
            problem = f"{short(value)} must be a string (quote it: \"{value}\")"
            raise doc.fail(at + ["rayStartParams", key], problem)


def _check_pod_template(doc: _Doc, group: dict, at: list) -> int:
    """Check the pod template's containers and return the GPUs one pod asks for."""
    template = _mapping(doc, group, at + ["template"])
    pod = _mapping(doc, template, at + ["template", "spec"])
    containers = pod.get("containers")
    where = at + ["template", "spec", "containers"]
    if not isinstance(containers, list) or not containers:
        raise doc.fail(where, "missing or empty: a Ray pod needs at least one container")
    gpus = 0
    for i, container in enumerate(containers):
        if not isinstance(container, dict):
            raise doc.fail(where + [i], "must be a mapping")
        for key in ("name", "image"):
            if not isinstance(container.get(key), str) or not container[key]:
                raise doc.fail(where + [i, key], "missing or empty")
        gpus += _container_gpus(doc, container, where + [i])
    return gpus


def _container_gpus(doc: _Doc, container: dict, at: list) -> int:
    resources = container.get("resources") or {}
    if not isinstance(resources, dict):
        raise doc.fail(at + ["resources"], "must be a mapping")
    found = {}
    for section in ("limits", "requests"):
        values = resources.get(section) or {}
        if _GPU in values:
            value = values[_GPU]
            if not _is_count(value) and not (isinstance(value, str) and value.isdigit()):
                problem = f"{short(value)} is not a whole number of GPUs"
                raise doc.fail(at + ["resources", section, _GPU], problem)
            found[section] = int(value)
    # Kubernetes: extended resources need limits; requests, if given, must equal them.
    if "requests" in found and found.get("limits") != found["requests"]:
        have = f"{found['limits']} differs from" if "limits" in found else "missing, unlike"
        problem = f"{have} requests ({found['requests']}); Kubernetes needs GPU limits equal to requests"
        raise doc.fail(at + ["resources", "limits", _GPU], problem)
    return found.get("limits", 0)


def _mapping(doc: _Doc, parent: dict, where: list) -> dict:
    value = parent.get(where[-1])
    if not isinstance(value, dict):
        raise doc.fail(where, "missing or not a mapping")
    return value


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
