"""The configurations a space can produce, as far as its categorical choices go.

Teachers and model structure only ever change through categorical parameters (a teacher branch,
a student configuration, a method), so enumerating the categorical combinations tells the
driver which teachers to train and lets validation check every structure a trial may build.
Continuous parameters keep their fixed values here; they never change what gets built.
"""

from __future__ import annotations

import itertools

from kdsearch.config import get_path
from kdsearch.errors import SpaceError

MAX_COMBINATIONS = 512


def categorical_configs(space) -> list[dict]:
    """One experiment config per combination of categorical values whose conditions hold."""
    cats = [s for s in space.params.values() if s.type == "categorical"]
    total = 1
    for spec in cats:
        total *= len(spec.choices)
    if total > MAX_COMBINATIONS:
        raise SpaceError(f"{total} combinations of categorical parameters; at most {MAX_COMBINATIONS} are "
                         "supported (use conditions to cut impossible ones)", file=space.file, field="params")
    seen, configs = set(), []
    for values in itertools.product(*(spec.choices for spec in cats)):
        chosen = {spec.path: value for spec, value in zip(cats, values)}
        applied = {}
        for spec in space.params.values():  # dependency order: conditions see earlier choices
            if spec.path in chosen and _holds(spec, applied, space.config):
                applied[spec.path] = chosen[spec.path]
        key = tuple(sorted(applied.items(), key=lambda kv: kv[0]))
        if key not in seen:
            seen.add(key)
            configs.append(space.trial_config(applied))
    return configs


def _holds(spec, applied: dict, config: dict) -> bool:
    for path, allowed in spec.when.items():
        value = applied[path] if path in applied else get_path(config, path)
        if value not in allowed:
            return False
    return True
