"""Load a search-space YAML, fill defaults and check it completely before Ray starts.

Every error names the file and the offending key (``edam.yaml: params.loss.beta: inverted
range: low 3 > high 0``). Bundled spaces are found by name: ``search_spaces/edam.yaml``,
``spaces/edam.yaml`` and ``edam`` all resolve to the same file.
"""

from __future__ import annotations

import copy
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kdsearch.config import deep_merge, did_you_mean, get_path, has_path, with_overrides
from kdsearch import safe_yaml
from kdsearch.errors import SpaceError, UserError, short
from kdsearch.spec import schema
from kdsearch.spec.kinds import DEFAULT_KIND, ExperimentKind, get_kind
from kdsearch.spec.params import ParamSpec, parse_params
from kdsearch.userfiles import os_problem, regular_file

BUNDLED_DIR = Path(__file__).resolve().parents[2] / "search_spaces"  # a checkout or an editable install
# A wheel or `pip install .` puts the spaces here (pyproject's data-files).
INSTALLED_DIR = Path(sys.prefix) / "share" / "kdsearch" / "search_spaces"
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
    rows: dict = field(default_factory=dict)  # row name -> {config path: value} (kdsearch.spec.rows)
    warnings: list[str] = field(default_factory=list)  # runnable, but worth a line (kdsearch.spec.pairing)

    def smoke(self) -> "Space":
        """The same space shrunk to prove the wiring in about a minute (`--smoke-test`)."""
        out = copy.deepcopy(self)
        holder = {"search": out.search, **out.config}
        defaults = {k: v for k, v in schema.SMOKE_DEFAULTS.items() if has_path(holder, k)}  # dmd: no teacher
        holder = with_overrides(holder, {**defaults, **self.smoke_test})
        out.search = holder.pop("search")
        out.config = holder
        return out

    def trial_config(self, values: dict[str, Any]) -> dict:
        """The experiment config of one trial: the fixed config, its row's paths, its sampled values."""
        from kdsearch.spec.rows import row_config

        return row_config(self.config, self.rows, values)


def read_yaml(path: str | Path, *, what: str) -> Any:
    """One YAML document of a user's file, read through the strict, bounded loader
    (`kdsearch.safe_yaml`); every problem is a SpaceError naming the file (and line)."""
    from kdsearch.userfiles import read_user_text

    file = str(path)
    try:
        text = read_user_text(path, what=what)
    except UserError as exc:
        raise SpaceError(exc.problem, file=exc.file, field=exc.field) from None
    try:
        return safe_yaml.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        kind = "refused" if isinstance(exc, safe_yaml.BoundedError) else "malformed"
        raise SpaceError(f"{kind} YAML: {getattr(exc, 'problem', None) or exc}", file=file, field=where) from None


def resolve_space_path(arg: str) -> Path:
    """A path as given, else a bundled space by bare name (``edam``) or as the design card and
    the README write it (``spaces/edam.yaml``, ``search_spaces/edam.yaml``). Any other path that
    does not exist is an error, never silently a bundled file of the same name."""
    try:
        return _resolve(arg)
    except OSError as exc:  # e.g. a name too long for the file system
        raise SpaceError(os_problem(exc, "space file"), file=arg) from None
    except UserError as exc:
        raise SpaceError(exc.problem, file=exc.file, field=exc.field) from None


def _resolve(arg: str) -> Path:
    path = Path(arg)
    if path.exists():  # a pipe, a folder or a device is refused by name, never opened
        return regular_file(path, what="space file")
    bundled_dirs = [d for d in (BUNDLED_DIR, INSTALLED_DIR) if d.is_dir()]
    if str(path.parent) in (".", "spaces", "search_spaces"):
        name = path.name if path.suffix in (".yaml", ".yml") else f"{path.name}.yaml"
        for folder in (Path.cwd() / "search_spaces", *bundled_dirs):
            if (folder / name).is_file():
                return folder / name
    bundled = sorted({p.stem for d in bundled_dirs for p in d.glob("*.yaml")})
    raise SpaceError(f"no such space file (bundled spaces: {', '.join(bundled)})", file=arg)


def load_space(arg: str, overrides: dict[str, Any] | None = None) -> Space:
    """Read, default and check a space file; raise SpaceError naming file and key.

    Args:
        arg: a space file or a bundled space's name.
        overrides: dotted path -> value set in the file's YAML before it is checked (`kdsearch
            train --set`), so an override is checked exactly like the file.
    """
    path = resolve_space_path(arg)
    file = str(path)
    raw = read_yaml(path, what="space file")
    if not isinstance(raw, dict):
        raise SpaceError("a space file must be a YAML mapping", file=file)
    if overrides:
        raw = with_overrides(raw, overrides)
    _check_keys(raw, schema.TOP_LEVEL_KEYS, file, "")
    space = _build(raw, file, path)
    for line in space.warnings:  # stderr: stdout stays the command's own output
        print(f"kdsearch: warning: {line}", file=sys.stderr)
    return space


def _build(raw: dict, file: str, path: Path) -> Space:
    from kdsearch.spec.checks import check_experiment

    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SpaceError("must be letters, digits, '.', '_' or '-' (no path separators)", file=file, field="name")
    kind = get_kind(raw.get("kind", DEFAULT_KIND), file=file)
    defaults = _section_defaults(raw, kind, file)
    config: dict = {"kind": kind.name}
    for section, default in defaults.items():
        given = raw.get(section)
        if isinstance(default, dict):
            if given is None:
                given = {}
            if not isinstance(given, dict):
                raise SpaceError("must be a mapping", file=file, field=section)
            if section != "distill":  # distill options are checked against the loss registry
                _check_keys(given, default, file, section + ".")
            if section in TRAINING_SECTIONS:
                given = _with_preset(given, file, section)
            config[section] = deep_merge(default, given)
        else:
            config[section] = default if given is None else given
    search = _section(raw, "search", schema.SEARCH_DEFAULTS, file)
    resources = _section(raw, "resources", schema.RESOURCES_DEFAULTS, file)
    _refuse_searched_presets(raw, file)
    smoke = raw.get("smoke_test") or {}
    if not isinstance(smoke, dict):
        raise SpaceError("must map config paths to values", file=file, field="smoke_test")
    from kdsearch.spec.rows import ROW_PARAM, attach_rows, parse_rows

    def known(path: str) -> bool:
        return _is_setting(config, path) or kind.is_option(path)

    rows = parse_rows(raw.get("rows"), file=file, known_paths=known)
    params = parse_params(raw.get("params"), file=file,
                          known_paths=lambda p: known(p) or (bool(rows) and p == ROW_PARAM))
    params = attach_rows(params, rows, file=file)
    space = Space(file=file, name=name, description=str(raw.get("description", "")), config=config,
                  params=params, search=search, resources=resources, smoke_test=smoke, rows=rows)
    check_experiment(space)
    _check_smoke(space)
    from kdsearch.spec.pairing import pairing_warning

    pairing = pairing_warning(space)
    if pairing:
        space.warnings.append(f"{file}: teacher.branch: {pairing}")
    return space


TRAINING_SECTIONS = ("train", "teacher_train")


def _with_preset(given: dict, file: str, section: str) -> dict:
    """The section's own keys over its preset's (kdsearch.train.recipes)."""
    from kdsearch.models.options import InvalidOption
    from kdsearch.train.recipes import apply_preset

    try:
        return apply_preset(given)
    except InvalidOption as err:
        raise SpaceError(err.problem, file=file, field=f"{section}.{err.option}") from None


def _refuse_searched_presets(raw: dict, file: str) -> None:
    """A preset fills a section when the file is read, so a trial cannot switch it: its keys
    (lr, accumulate, ...) are what can be searched, or set by a row."""
    for where in ("params", "rows", "smoke_test"):
        block = raw.get(where)
        entries = block.items() if isinstance(block, dict) else ()
        for name, value in entries:
            paths = value if where == "rows" and isinstance(value, dict) else {name: None}
            for path in paths:
                if path in (f"{s}.preset" for s in TRAINING_SECTIONS):
                    field = f"{where}.{name}" + (f".{path}" if where == "rows" else "")
                    raise SpaceError("a preset is applied when the file is read and cannot vary by trial; "
                                     "set it in the section, and search or row-set its keys instead",
                                     file=file, field=field)


def _is_setting(config: dict, path: str) -> bool:
    """A dotted path to one value (a whole section such as `loss` cannot be searched or set)."""
    return has_path(config, path) and not isinstance(get_path(config, path), dict)


def _check_smoke(space: Space) -> None:
    """`--smoke-test` must run too: its overrides name real settings, and the shrunk space (one
    epoch) still passes every check (e.g. an ASHA grace period longer than the smoke run)."""
    holder = {"search": space.search, **space.config}
    for key in space.smoke_test:
        if not isinstance(key, str) or not _is_setting(holder, key):
            raise SpaceError(f"'{key}' is not a config key that can be set", file=space.file, field=f"smoke_test.{key}")
    from kdsearch.spec.checks import check_experiment

    try:
        check_experiment(space.smoke())
    except SpaceError as exc:
        field = f"smoke_test.{exc.field}" if exc.field in space.smoke_test else exc.field
        raise SpaceError(f"with --smoke-test: {exc.problem}", file=space.file, field=field) from None


def _section_defaults(raw: dict, kind: ExperimentKind, file: str) -> dict:
    """The sections this kind of experiment has, with their defaults, in the schema's order."""
    own = kind.sections(raw, file)
    common = {k: v for k, v in schema.EXPERIMENT_DEFAULTS.items() if k not in schema.DISTILL_ONLY or k in own}
    return copy.deepcopy({**common, **own})


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
