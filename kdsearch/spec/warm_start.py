"""`kdsearch run SPACE --warm-start results/<old>`: the new study starts with the old study's
finished trials, so TPE's first proposals are informed (Optuna's `study.add_trials`).

Each COMPLETE or PRUNED trial of the old journal becomes a `FrozenTrial` with the NEW space's
distributions (`ParamSpec.distribution()`), its value(s) and intermediate values, and user
attributes naming where it came from. Every old parameter must be searched in the new space and
its value must lie in the new distribution; otherwise the warm start is refused with one line
naming each misfit. A parameter of the new space that old trials lack is fine (Optuna treats it
like an unsampled conditional one). The old search's trial rows go to warm_start.parquet beside
the new results, which `kdsearch leaderboard` shows marked "imported".
"""

from __future__ import annotations

import json
from pathlib import Path

from kdsearch.errors import UserError

FINISHED = ("COMPLETE", "PRUNED")


def old_study(folder: Path):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    journal = folder / "optuna.journal"
    if not journal.is_file():
        raise UserError("no Optuna study to start from (no optuna.journal)", file=str(folder), field="--warm-start")
    storage = JournalStorage(JournalFileBackend(str(journal)))
    names = optuna.study.get_all_study_names(storage)
    if len(names) != 1:
        raise UserError(f"expected one study in the journal, found {len(names)}", file=str(journal),
                        field="--warm-start")
    return optuna.load_study(study_name=names[0], storage=storage)


def warm_trials(folder: str | Path, space) -> list:
    """The old study's finished trials as FrozenTrials of the new space (see the module doc)."""
    from optuna.trial import TrialState, create_trial

    folder = Path(folder)
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if meta and (meta.get("metric"), meta.get("mode")) != (space.search["metric"], space.search["mode"]):
        raise UserError(f"the old search optimised {meta.get('metric')} ({meta.get('mode')}), this one "
                        f"{space.search['metric']} ({space.search['mode']})", file=str(folder), field="--warm-start")
    study = old_study(folder)
    n_objectives = 1 + len(space.search["objectives"])
    if len(study.directions) != n_objectives:
        raise UserError(f"the old study has {len(study.directions)} objective(s), this search {n_objectives}",
                        file=str(folder), field="--warm-start")
    dists = {name: spec.distribution() for name, spec in space.params.items()}
    misfits: dict[str, str] = {}
    out = []
    for t in study.trials:
        if t.state.name not in FINISHED:
            continue
        for name, value in t.params.items():
            if name not in dists:
                misfits.setdefault(name, f"{name} (not searched in {space.file})")
            elif not _fits(dists[name], value):
                misfits.setdefault(name, f"{name}={value!r} (outside {_describe(dists[name])})")
        if misfits:
            continue
        state = TrialState.COMPLETE if t.state.name == "COMPLETE" else TrialState.PRUNED
        out.append(create_trial(
            state=state, values=t.values if state == TrialState.COMPLETE else None, params=dict(t.params),
            distributions={name: dists[name] for name in t.params}, intermediate_values=dict(t.intermediate_values),
            user_attrs={**t.user_attrs, "warm_start_from": folder.name, "warm_start_number": t.number},
            system_attrs={}))
    if misfits:
        raise UserError("parameters that do not fit this space: " + "; ".join(misfits.values()), file=str(folder),
                        field="--warm-start")
    if not out:
        raise UserError("the old study has no finished trial to start from", file=str(folder), field="--warm-start")
    return out


def _fits(dist, value) -> bool:
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False


def _describe(dist) -> str:
    if hasattr(dist, "choices"):
        return f"choices {list(dist.choices)}"
    return f"[{dist.low:g}, {dist.high:g}]" + (f" step {dist.step:g}" if getattr(dist, "step", None) else "")


def imported_rows(folder: str | Path):
    """The old search's trial rows (errors left out), marked imported, for warm_start.parquet."""
    from kdsearch.results.store import read_results

    _, trials, _ = read_results(folder)
    rows = trials[trials["status"].isin(["done", "stopped"])].copy()
    rows["imported_from"] = Path(folder).name
    rows["status"] = "imported"
    return rows
