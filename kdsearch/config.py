"""Nested-dict helpers for experiment configs: dotted paths, deep merge, did-you-mean.

A resolved experiment config is a plain nested dict (JSON/YAML-able, so it travels to Ray
workers and into result files unchanged). Searched parameters address it with dotted paths
such as ``loss.beta`` or ``distill.temperature``.
"""

from __future__ import annotations

import copy
import difflib
from typing import Any, Iterable


def get_path(cfg: dict, path: str) -> Any:
    """Value at a dotted path; KeyError if any part is missing."""
    node: Any = cfg
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(path)
        node = node[part]
    return node


def has_path(cfg: dict, path: str) -> bool:
    try:
        get_path(cfg, path)
    except KeyError:
        return False
    return True


def set_path(cfg: dict, path: str, value: Any) -> None:
    """Set a dotted path, creating intermediate dicts."""
    parts = path.split(".")
    node = cfg
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def with_overrides(cfg: dict, overrides: dict[str, Any]) -> dict:
    """A deep copy of `cfg` with each dotted path in `overrides` set."""
    out = copy.deepcopy(cfg)
    for path, value in overrides.items():
        set_path(out, path, value)
    return out


def deep_merge(base: dict, top: dict) -> dict:
    """`top` merged over `base` (dicts merged recursively, everything else replaced)."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
