"""Check a Ray cluster-launcher config (the YAML of `ray up`) offline, with Ray's own code.

`ray up` has no dry run: it contacts the cloud before it looks closely at the file. Ray's
autoscaler does have the two functions it uses itself: `prepare_config` (merges the provider's
defaults.yaml, fills per-type min/max workers) and `validate_config` (jsonschema against
`ray/autoscaler/ray-schema.json`, then head-type and min-workers checks). Both run offline, with
no cloud SDK and no credentials (measured: boto3 is not even imported). They are private Ray APIs,
so if a future Ray moves them we fall back to the bare schema and say so in the summary.

On top of Ray, one kdsearch check: RAY_AUTH_MODE must be set the same way on the head and on every
worker type, because Ray 2.60 nodes whose auth modes differ cannot join (InvalidAuthToken).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from typing import Any

from kdsearch.cluster._fields import dotted
from kdsearch.config import did_you_mean
from kdsearch.errors import UserError, short

# What prepare_config raises when a section has the wrong shape (a list where Ray indexes a
# dict, a missing key it reads without a default); anything else is a bug and should surface.
_PREPARE_ERRORS = (KeyError, TypeError, AttributeError, ValueError, AssertionError)
_MAX_PROBLEM_CHARS = 300
_AUTH_MODE = re.compile(r"RAY_AUTH_MODE=[\"']?(\w+)")


def check_launcher_config(cfg: dict, path: str) -> str:
    """Validate a `ray up` config as Ray would, and describe it.

    Args:
        cfg: The parsed YAML (one mapping with a `provider` key).
        path: The file's path, for messages.

    Returns:
        A short description, e.g. "Ray launcher config, provider aws: 1 head type, 4 worker
        types (2 spot), max 8 workers, max 29 GPUs".

    Raises:
        UserError: with Ray's own message and the path of the offending key.
    """
    provider = cfg.get("provider")
    if not isinstance(provider, dict) or not isinstance(provider.get("type"), str):
        problem = "must be a mapping with a string `type` (e.g. type: aws)"
        raise UserError(problem, file=path, field="provider")
    try:
        from ray.autoscaler._private.util import prepare_config, validate_config
    except ImportError:  # Ray moved its private helpers: keep the schema half of the check
        _raise_first_schema_error(cfg, path, raw=True)
        return _describe(cfg) + " (schema only: Ray's prepare_config not found)"

    prepared = _prepare(cfg, path, prepare_config)
    _validate(prepared, path, validate_config)
    _check_auth_mode(prepared, path)
    return _describe(prepared)


def _prepare(cfg: dict, path: str, prepare_config) -> dict:
    import click  # a Ray dependency; Ray aborts with click exceptions

    # prepare_config logs one INFO line per node type it fills in; that is noise for a checker.
    ray_util_logger = logging.getLogger("ray.autoscaler._private.util")
    level = ray_util_logger.level
    ray_util_logger.setLevel(logging.WARNING)
    try:
        return prepare_config(copy.deepcopy(cfg))  # it mutates its argument
    except NotImplementedError as err:  # "Unsupported node provider: ..."
        raise UserError(str(err), file=path, field="provider.type") from None
    except click.ClickException as err:  # Ray's cli_logger.abort: the local provider's head_ip/worker_ips
        raise UserError(err.format_message(), file=path, field="provider") from None
    except _PREPARE_ERRORS as err:
        # A malformed section broke Ray's merging; the schema usually names it precisely.
        _raise_first_schema_error(cfg, path, raw=True)
        raise UserError(f"Ray's prepare_config failed: {type(err).__name__}: {err}", file=path) from None
    finally:
        ray_util_logger.setLevel(level)


def _validate(prepared: dict, path: str, validate_config) -> None:
    import jsonschema

    try:
        validate_config(prepared)
    except jsonschema.ValidationError as err:
        raise _schema_error(err, path) from None
    except (ValueError, RuntimeError) as err:
        message = str(err)
        if "head_node_type" in message:
            types = ", ".join(prepared.get("available_node_types", {}))
            got = prepared.get("head_node_type")
            hint = " (Ray's default, as head_node_type is not set)" if got == "ray.head.default" else ""
            problem = f"{message} Got {short(got)}{hint}; node types: {types}"
            raise UserError(problem, file=path, field="head_node_type") from None
        field = "max_workers" if "max_workers" in message else None
        raise UserError(message, file=path, field=field) from None


def _ray_schema() -> dict:
    import ray.autoscaler

    with open(os.path.join(os.path.dirname(ray.autoscaler.__file__), "ray-schema.json")) as f:
        return json.load(f)


def _raise_first_schema_error(cfg: dict, path: str, *, raw: bool) -> None:
    """Raise the most relevant schema error in `cfg`, if any.

    Args:
        raw: True for a config that Ray has not filled with defaults yet, whose top-level
            `required` keys (e.g. cluster_name) would come from defaults.yaml.
    """
    import jsonschema

    schema = _ray_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [
        e
        for e in validator.iter_errors(cfg)
        if not (raw and e.validator == "required" and not e.absolute_path)
    ]
    if errors:
        raise _schema_error(jsonschema.exceptions.best_match(errors), path)


def _schema_error(err: Any, path: str) -> UserError:
    """Turn a jsonschema error into `file: dotted.path: jsonschema's message`."""
    location = list(err.absolute_path)
    problem = err.message
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        # The path stops at the parent; name the unexpected key itself, and its likely intent.
        known = list(err.schema.get("properties", {}))
        patterns = list(err.schema.get("patternProperties", {}))
        extras = [
            k for k in err.instance if k not in known and not any(re.search(p, str(k)) for p in patterns)
        ]
        if len(extras) == 1:
            location.append(extras[0])
            problem += did_you_mean(str(extras[0]), known)
    if len(problem) > _MAX_PROBLEM_CHARS:
        problem = problem[:_MAX_PROBLEM_CHARS] + "..."
    return UserError(problem, file=path, field=dotted(location) or None)


def _auth_modes(commands: Any) -> set[str]:
    return {m.lower() for c in (commands or []) for m in _AUTH_MODE.findall(str(c))}


def _shown(modes: set[str]) -> str:
    return "/".join(sorted(modes)) or "unset"


def _check_auth_mode(prepared: dict, path: str) -> None:
    # After prepare_config, head/worker_setup_commands already include setup_commands.
    head = _auth_modes(prepared.get("head_setup_commands")) | _auth_modes(
        prepared.get("head_start_ray_commands")
    )
    if len(head) > 1:
        problem = f"RAY_AUTH_MODE set to different values on the head: {_shown(head)}"
        raise UserError(problem, file=path, field="head_start_ray_commands")
    start = _auth_modes(prepared.get("worker_start_ray_commands"))
    for name, node_type in prepared.get("available_node_types", {}).items():
        if name == prepared.get("head_node_type"):
            continue
        # A node type's own worker_setup_commands replace the global (merged) ones.
        setup = node_type.get("worker_setup_commands", prepared.get("worker_setup_commands"))
        workers = _auth_modes(setup) | start
        if workers != head:
            raise UserError(
                f"RAY_AUTH_MODE is {_shown(head)} on the head but {_shown(workers)} "
                f"on node type {short(name)}; "
                "nodes whose auth modes differ cannot join the cluster (InvalidAuthToken): export the "
                "same RAY_AUTH_MODE in head_start_ray_commands and worker_start_ray_commands",
                file=path,
                field="worker_start_ray_commands",
            )


def _describe(cfg: dict) -> str:
    provider = cfg.get("provider", {}).get("type", "?")
    node_types = cfg.get("available_node_types") or {}
    head = cfg.get("head_node_type")
    workers = {name: t for name, t in node_types.items() if name != head}
    spot = sum(1 for t in workers.values() if _is_spot(t.get("node_config", {})))
    max_workers = cfg.get("max_workers")
    gpus, unknown = _max_gpus(workers, max_workers, node_types.get(head, {}))
    gpu_text = f"max {_count(gpus, 'GPU')}" + (f" (+ auto-detected on {', '.join(unknown)})" if unknown else "")
    spot_text = f" ({spot} spot)" if spot else ""
    return (
        f"Ray launcher config, provider {provider}: {_count(int(head in node_types), 'head type')}, "
        f"{_count(len(workers), 'worker type')}{spot_text}, max {_count(max_workers, 'worker')}, {gpu_text}"
    )


def _count(n: Any, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _is_spot(node_config: dict) -> bool:
    market = node_config.get("InstanceMarketOptions", {}).get("MarketType", "")  # AWS's field
    return str(market).lower() == "spot"


def _max_gpus(workers: dict, max_workers: Any, head: dict) -> tuple[int, list[str]]:
    """Most GPUs the autoscaler could start: fill the global worker cap with the GPU-richest types."""
    remaining = max_workers if isinstance(max_workers, int) else 0
    total = int(head.get("resources", {}).get("GPU", 0) or 0)
    unknown = [name for name, t in workers.items() if "GPU" not in t.get("resources", {})]
    known = sorted(
        (
            (t["resources"]["GPU"], t.get("max_workers", remaining))
            for t in workers.values()
            if "GPU" in t.get("resources", {})
        ),
        reverse=True,
    )
    for gpus_per_node, type_max in known:
        nodes = min(type_max if isinstance(type_max, int) else 0, remaining)
        total += gpus_per_node * nodes
        remaining -= nodes
    return total, unknown
