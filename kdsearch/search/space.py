"""Load a search-space YAML, fill defaults and check it completely before Ray starts.

Every error names the file and the offending key (``edam.yaml: params.loss.beta: inverted
range: low 3 > high 0``). Bundled spaces are found by name: ``search_spaces/edam.yaml``,
``spaces/edam.yaml`` and ``edam`` all resolve to the same file.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kdsearch.config import deep_merge, did_you_mean, has_path, with_overrides
from kdsearch.errors import SpaceError
from kdsearch.search import schema
from kdsearch.search.params import ParamSpec, parse_params

BUNDLED_DIR = Path(__file__).resolve().parents[2] / "search_spaces"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass
class Space:
    """A checked experiment: the fixed config, the searched parameters and how to search."""

    file: str
    name: str
    description: str
    config: dict  # data, task, teacher, teacher_train, student, distill, loss, train
    params: dict[str, ParamSpec]
    search: dict
    resources: dict
    smoke_test: dict

    def smoke(self) -> "Space":
        """The same space shrunk to prove the wiring in about a minute (`--smoke-test`)."""
        out = copy.deepcopy(self)
        holder = {"search": out.search, **out.config}
        holder = with_overrides(holder, {**schema.SMOKE_DEFAULTS, **self.smoke_test})
        out.search = holder.pop("search")
        out.config = holder
        return out

    def trial_config(self, values: dict[str, Any]) -> dict:
        """The experiment config of one trial: the fixed config with its sampled values set."""
        return with_overrides(self.config, values)


def resolve_space_path(arg: str) -> Path:
    """A path as given, else a bundled space by file name or bare name."""
    path = Path(arg)
    if path.is_file():
        return path
    name = path.name if path.suffix in (".yaml", ".yml") else f"{path.name}.yaml"
    for candidate in (Path.cwd() / "search_spaces" / name, BUNDLED_DIR / name):
        if candidate.is_file():
            return candidate
    bundled = sorted(p.stem for p in BUNDLED_DIR.glob("*.yaml"))
    raise SpaceError(f"no such space file (bundled spaces: {', '.join(bundled)})", file=arg)


def load_space(arg: str) -> Space:
    """Read, default and check a space file; raise SpaceError naming file and key."""
    path = resolve_space_path(arg)
    file = str(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        raise SpaceError(f"malformed YAML: {getattr(exc, 'problem', exc)}", file=file, field=where) from None
    except OSError as exc:
        raise SpaceError(f"cannot read: {exc.strerror}", file=file) from None
    if not isinstance(raw, dict):
        raise SpaceError("a space file must be a YAML mapping", file=file)
    _check_keys(raw, schema.TOP_LEVEL_KEYS, file, "")
    return _build(raw, file, path)


def _build(raw: dict, file: str, path: Path) -> Space:
    from kdsearch.search.checks import check_experiment, model_defaults

    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SpaceError("must be letters, digits, '.', '_' or '-' (no path separators)", file=file, field="name")
    teacher_defaults, student_defaults = model_defaults()
    defaults = {**copy.deepcopy(schema.EXPERIMENT_DEFAULTS), "teacher": teacher_defaults,
                "student": student_defaults}
    config = {}
    for section, default in defaults.items():
        given = raw.get(section)
        if isinstance(default, dict):
            if given is None:
                given = {}
            if not isinstance(given, dict):
                raise SpaceError("must be a mapping", file=file, field=section)
            if section != "distill":  # distill options are checked against the loss registry
                _check_keys(given, default, file, section + ".")
            config[section] = deep_merge(default, given)
        else:
            config[section] = default if given is None else given
    search = _section(raw, "search", schema.SEARCH_DEFAULTS, file)
    resources = _section(raw, "resources", schema.RESOURCES_DEFAULTS, file)
    smoke = raw.get("smoke_test") or {}
    if not isinstance(smoke, dict):
        raise SpaceError("must map config paths to values", file=file, field="smoke_test")
    params = parse_params(raw.get("params"), file=file,
                          known_paths=lambda p: has_path(config, p) or _is_distill_option(p))
    space = Space(file=file, name=name, description=str(raw.get("description", "")), config=config,
                  params=params, search=search, resources=resources, smoke_test=smoke)
    check_experiment(space)
    return space


def _is_distill_option(path: str) -> bool:
    from kdsearch.search.checks import distill_option_names

    return path.startswith("distill.") and path.count(".") == 1 and path[8:] in distill_option_names()


def _section(raw: dict, section: str, default: dict, file: str) -> dict:
    given = raw.get(section) or {}
    if not isinstance(given, dict):
        raise SpaceError("must be a mapping", file=file, field=section)
    _check_keys(given, default, file, section + ".")
    return deep_merge(default, given)


def _check_keys(given: dict, allowed, file: str, prefix: str) -> None:
    for key in given:
        if key not in allowed:
            raise SpaceError(f"unknown key '{key}'" + did_you_mean(str(key), allowed), file=file,
                             field=f"{prefix}{key}")
