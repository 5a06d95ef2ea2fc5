"""`kdsearch cluster check FILE...`: validate cluster files offline, before they cost money.

A file is one of:
* a Ray cluster-launcher config (`ray up`; a mapping with `provider`), checked with Ray's own
  `prepare_config` + `validate_config` (see `launcher.py`);
* KubeRay manifests (documents with `apiVersion: ray.io/...`), checked field by field
  (see `kuberay.py`).
Every file is first scanned for credentials (see `_secrets.py`) and parsed by the one strict,
bounded YAML loader (`kdsearch.safe_yaml`): a duplicated key is an error, because YAML silently
keeps the last one and a second `max_workers` would quietly change the cost cap.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

from kdsearch import safe_yaml
from kdsearch.cluster._secrets import refuse_secrets
from kdsearch.cluster.kuberay import check_kuberay_docs, is_kuberay_doc
from kdsearch.cluster.launcher import check_launcher_config
from kdsearch.errors import EXIT_USER_ERROR, UserError
from kdsearch.userfiles import read_user_text


def _load_documents(text: str, path: str) -> list[Any]:
    """Parse all YAML documents, turning a syntax error into `path: line N: ...`."""
    try:
        docs = safe_yaml.load_all(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}" if mark else None
        problem = " ".join(p for p in (err.context, err.problem) if p)
        column = f" (column {mark.column + 1})" if mark else ""
        raise UserError(f"invalid YAML: {problem}{column}", file=path, field=where) from None
    except yaml.YAMLError as err:
        raise UserError(f"invalid YAML: {err}", file=path) from None
    return [d for d in docs if d is not None]


def check_cluster_file(path: str) -> str:
    """Check one cluster file and describe it in one line.

    Args:
        path: A Ray launcher config (`ray up`) or a KubeRay manifest.

    Returns:
        e.g. "cluster/aws.yaml: OK (Ray launcher config, provider aws: 1 head type, 4 worker
        types (2 spot), max 8 workers, max 29 GPUs)".

    Raises:
        UserError: `path: field: problem`, carrying Ray's own message for launcher configs.
    """
    path = str(path)
    text = read_user_text(path, what="cluster file")  # a regular UTF-8 file of bounded size, or one line
    refuse_secrets(text, path)
    docs = _load_documents(text, path)
    if not docs:
        raise UserError("empty file", file=path)
    if any(is_kuberay_doc(d) for d in docs):
        return f"{path}: OK ({check_kuberay_docs(docs, path)})"
    if isinstance(docs[0], dict) and "provider" in docs[0]:
        if len(docs) > 1:
            raise UserError("a Ray launcher config must be one YAML document", file=path, field="document 2")
        return f"{path}: OK ({check_launcher_config(docs[0], path)})"
    raise UserError(
        "not a Ray cluster file: expected a launcher config (a mapping with `provider`) "
        "or KubeRay manifests (apiVersion: ray.io/v1)",
        file=path,
    )


def cluster_check_command(paths: list[str]) -> int:
    """Check each file, print one line per file, and return the exit code.

    Args:
        paths: Files given on the command line.

    Returns:
        0 when every file passes, `EXIT_USER_ERROR` (2) when any fails (all are still checked,
        so one run reports every broken file).
    """
    if not paths:
        print("kdsearch cluster check: give one or more cluster files (e.g. cluster/aws.yaml)")
        return EXIT_USER_ERROR
    failed = False
    for path in paths:
        try:
            print(check_cluster_file(path))
        except UserError as err:
            print(f"kdsearch: error: {err.message}", file=sys.stderr, flush=True)  # as every other command
            failed = True
    return EXIT_USER_ERROR if failed else 0
