"""What `kdsearch confirm` trains: the K best configurations of a search and their no-KD
baselines, each over the same N training seeds (Ray-free).

A configuration is a trial's searched values (dotted overrides of the search's fixed config).
Its baseline is the same experiment without distillation: `loss.beta` 0 and none of the
configuration's `loss.*`, `distill.*` or `teacher.*` values, so the student, its labelled subset
(`train.labelled_seed`), epochs and every other setting are the configuration's own. Configurations
that share a student share one baseline. Seed s sets `train.seed` (initialisation, batch order,
dropout) for every run alike, so a configuration and its baseline are paired by seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kdsearch.errors import UserError
from kdsearch.results.store import read_results
from kdsearch.results.table import rank_trials

CONFIRM_DIR = "confirm"
KD_ONLY = ("loss.", "distill.", "teacher.")


@dataclass
class ConfirmPlan:
    """Every run of a confirmation.

    Attributes:
        config: the search's fixed experiment config (space.yaml's `config`).
        runs: label -> dotted overrides; baselines' labels start with "no-KD".
        baseline_of: configuration label -> its baseline's label.
        trial_of: configuration label -> the search trial it came from.
        seeds: training seeds, the same for every run.
        metric, mode: the search's metric (each run's epoch is chosen on it, on validation).
        record: the space record written to confirm/space.yaml (resources, search section).
    """

    config: dict
    runs: dict[str, dict]
    baseline_of: dict[str, str]
    trial_of: dict[str, str]
    seeds: list[int]
    metric: str
    mode: str
    record: dict = field(default_factory=dict)


def check_counts(top: int, seeds: list[int]) -> None:
    if not isinstance(top, int) or top < 1:
        raise UserError(f"must be an integer >= 1, got {top!r}", field="--top")
    if len(seeds) < 2:
        raise UserError(f"a paired test needs 2 or more seeds, got {len(seeds)}", field="--seeds")
    if len(set(seeds)) != len(seeds) or any(s < 0 for s in seeds):
        raise UserError(f"seeds must be distinct non-negative integers, got {seeds}", field="--seeds")


def plan_from_search(results_dir: str | Path, *, top: int, seeds: list[int]) -> ConfirmPlan:
    """The plan for the `top` best distinct configurations of a finished search."""
    check_counts(top, seeds)
    folder = Path(results_dir)
    if not (folder / "space.yaml").is_file():
        raise UserError("not a kdsearch search (no space.yaml)", file=str(folder))
    meta, trials, _ = read_results(folder)
    record = yaml.safe_load((folder / "space.yaml").read_text()) or {}
    config = record["config"]
    if config.get("kind", "distill") != "distill":
        raise UserError(f"confirm compares distillation with a no-KD student; a {config.get('kind')!r} "
                        "experiment has none", file=str(folder / "space.yaml"), field="kind")
    if "row" in meta["searched"]:  # a row names several paths, which space.yaml does not keep
        raise UserError("confirm cannot rebuild a rows search's configurations yet (search the row's values "
                        "as parameters instead)", file=str(folder / "space.yaml"), field="rows")
    ranked = rank_trials(trials[trials["status"].isin(["done", "stopped"])], metric=meta["metric"], mode=meta["mode"])
    ranked = ranked[ranked[f"best_{meta['metric']}"].notna()] if len(ranked) else ranked
    picked: list[tuple[str, dict]] = []
    for row in ranked.to_dict("records"):
        values = {p: _plain(row.get(p)) for p in meta["searched"] if not _missing(row.get(p))}
        if all(values != v for _, v in picked):
            picked.append((str(row["trial_id"]), values))
        if len(picked) == top:
            break
    if not picked:
        raise UserError("no finished trial to confirm", file=str(folder / "trials.parquet"))
    return build_plan(config, [v for _, v in picked], seeds, metric=meta["metric"], mode=meta["mode"],
                      trial_ids=[t for t, _ in picked], record=record)


def build_plan(config: dict, configurations: list[dict], seeds: list[int], *, metric: str, mode: str,
               trial_ids: list[str] | None = None, labels: list[str] | None = None,
               record: dict | None = None) -> ConfirmPlan:
    """Configurations (dotted overrides of `config`) and their baselines, as a plan."""
    runs: dict[str, dict] = {}
    baseline_of: dict[str, str] = {}
    baselines: dict[str, str] = {}  # the baseline's overrides (as YAML) -> its label
    trial_ids = trial_ids or [""] * len(configurations)
    for i, (values, trial) in enumerate(zip(configurations, trial_ids), 1):
        label = labels[i - 1] if labels else (f"#{i} ({trial})" if trial else f"#{i}")
        runs[label] = dict(values)
        base = {p: v for p, v in values.items() if not p.startswith(KD_ONLY)}
        base["loss.beta"] = 0.0
        key = yaml.safe_dump(base, sort_keys=True)
        if key not in baselines:
            baselines[key] = "no-KD" if not baselines else f"no-KD {len(baselines) + 1}"
        baseline_of[label] = baselines[key]
    for key, label in baselines.items():
        runs[label] = yaml.safe_load(key)
    trial_of = {label: t for label, t in zip(list(runs)[: len(configurations)], trial_ids) if t}
    return ConfirmPlan(config=config, runs=runs, baseline_of=baseline_of, trial_of=trial_of,
                       seeds=[int(s) for s in seeds], metric=metric, mode=mode, record=dict(record or {}))


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
