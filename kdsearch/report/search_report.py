"""`kdsearch report results/<name>`: plots and a Markdown summary of a search.

Writes into results/<name>/report/: learning curves per trial, the metric against each searched
parameter, parameter importances (Optuna's PED-ANOVA on the study journal), the Pareto front of
a multi-objective search, DMD's learned graph edges for the best trial (paper 003 Fig. 5), and
summary.md tying them together. Everything is computed from the result files; nothing re-runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kdsearch.results.provenance import metrics_line, read_space_record, settings_lines
from kdsearch.results.store import read_results
from kdsearch.results.table import best_trial, fmt_metric, fmt_value, rank_trials


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def learning_curves(epochs: pd.DataFrame, metric: str, out: Path, status: dict | None = None) -> Path:
    """One line per trial, each its own colour; trials that ran to the end (`done`) drawn bold,
    those ASHA stopped (or that failed) faded, so the finished ones stand out."""
    plt = _plt()
    status = status or {}
    fig, ax = plt.subplots(figsize=(7, 4))
    ids = list(epochs["trial_id"].drop_duplicates())
    cmap = plt.get_cmap("tab10" if len(ids) <= 10 else "tab20" if len(ids) <= 20 else "turbo")
    colours = [cmap(i if len(ids) <= 20 else i / max(1, len(ids) - 1)) for i in range(len(ids))]
    for colour, trial_id in zip(colours, ids):
        rows = epochs[epochs["trial_id"] == trial_id].sort_values("epoch")
        if metric not in rows:
            continue
        done = status.get(trial_id, "done") == "done"
        ax.plot(rows["epoch"], rows[metric], marker=".", color=colour, linewidth=1.8 if done else 0.8,
                alpha=0.95 if done else 0.35, linestyle="-" if done else "--",
                label=f"{trial_id} ({status.get(trial_id, '?')})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per trial (validation; bold: ran to the end, dashed/faded: stopped)", fontsize=9)
    if len(ids) <= 20:
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def log_scaled(folder: Path) -> set[str]:
    """Searched parameters sampled on a log scale (space.yaml's record of the search)."""
    import yaml

    path = folder / "space.yaml"
    if not path.is_file():
        return set()
    params = (yaml.safe_load(path.read_text()) or {}).get("params") or {}
    return {name for name, spec in params.items() if isinstance(spec, dict) and spec.get("log")}


def metric_vs_params(trials: pd.DataFrame, searched: list[str], metric: str, out: Path,
                     log_params: set[str] = frozenset()) -> Path:
    plt = _plt()
    fig, axes = plt.subplots(1, max(1, len(searched)), figsize=(3.2 * max(1, len(searched)), 3.2), squeeze=False)
    column = f"best_{metric}"
    for ax, param in zip(axes[0], searched):
        x = trials[param]
        numeric = pd.to_numeric(x, errors="coerce")
        colors = trials["status"].map({"done": "tab:green", "stopped": "tab:orange", "error": "tab:red"}).fillna("grey")
        if numeric.notna().all():
            ax.scatter(numeric, trials[column], c=colors, s=18)
            if param in log_params and (numeric > 0).all():
                ax.set_xscale("log")  # sampled on a log scale: shown on one
                ticks = np.geomspace(numeric.min(), numeric.max(), 4) if numeric.max() > numeric.min() else [numeric.min()]
                ax.set_xticks(ticks, [f"{t:.3g}" for t in ticks], fontsize=7)
                ax.xaxis.set_minor_formatter(plt.NullFormatter())  # Matplotlib's crowd each other
        else:  # categorical: one column per choice
            labels = sorted(x.astype(str).unique())
            pos = x.astype(str).map({v: i for i, v in enumerate(labels)})
            ax.scatter(pos, trials[column], c=colors, s=18)
            ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=7)
        ax.set_xlabel(param + (" (log scale)" if ax.get_xscale() == "log" else ""), fontsize=8)
        ax.set_ylabel(column, fontsize=8)
    fig.suptitle(f"best {metric} against each searched parameter (green done, orange stopped by ASHA)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


IMPORTANCE_METHOD = "PED-ANOVA (Optuna)"
# Below this many finished trials the importances rest on too few points to rank parameters.
FEW_TRIALS = 30


def importances(results_dir: Path, study_name: str) -> tuple[dict[str, float], int]:
    """Optuna's PED-ANOVA parameter importances on the study, and how many finished trials they
    rest on (empty when too few trials finished)."""
    import optuna
    from optuna.importance import PedAnovaImportanceEvaluator

    journal = results_dir / "optuna.journal"
    if not journal.is_file():
        return {}, 0
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    import warnings

    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
        used = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
        evaluator = PedAnovaImportanceEvaluator()  # named, not left to Optuna's default
        target = (lambda t: t.values[0] if t.values else float("nan")) if len(study.directions) > 1 else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            values = optuna.importance.get_param_importances(study, evaluator=evaluator, target=target)
        if any("too small to compute importances" in str(w.message) for w in caught):
            return {}, used  # Optuna would answer with equal shares: not a finding
        return {k: float(v) for k, v in values.items()}, used
    except (RuntimeError, ValueError, KeyError):  # fewer than two completed trials, one value...
        return {}, 0


def bar_chart(values: dict[str, float], title: str, out: Path, xlabel: str = "", note: str = "") -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 0.9 + 0.4 * len(values) + (0.3 if note else 0)))
    names = list(values)[::-1]
    ax.barh(names, [values[n] for n in names], color="tab:blue")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    if note:
        fig.text(0.01, 0.01, note, fontsize=7, color="tab:red", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.06 if note else 0, 1, 1))
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def pareto_plot(trials: pd.DataFrame, metric: str, mode: str, objectives: list[dict], out: Path) -> Path:
    from kdsearch.results.pareto import objective_columns, pareto_mask

    plt = _plt()
    cols = objective_columns(metric, mode, objectives)
    mask = pareto_mask(trials, cols)
    (ycol, _), (xcol, _) = cols[0], cols[1]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(trials[xcol], trials[ycol], c="lightgrey", s=16, label="trials")
    front = trials[mask].sort_values(xcol)
    ax.plot(front[xcol], front[ycol], "o-", color="tab:red", label="Pareto front")
    stopped = front[front["status"] == "stopped"] if "status" in front.columns else front.iloc[:0]
    if not stopped.empty:  # a shorter run's values: hollow, so a reader does not take them as full runs
        ax.scatter(stopped[xcol], stopped[ycol], s=70, facecolors="white", edgecolors="tab:red", zorder=3,
                   label="on the front, stopped by ASHA")
    ax.set_xlabel(xcol)
    ax.set_ylabel(ycol)
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def dmd_edges(epochs: pd.DataFrame, trial_id: str, epoch: int | None, out: Path) -> Path | None:
    """Paper 003 Fig. 5 for one trial: its learned edge weights at its best epoch."""
    from kdsearch.dmd import draw_edges_png

    rows = epochs[epochs["trial_id"] == trial_id]
    if epoch is not None and (rows["epoch"] == epoch).any():
        rows = rows[rows["epoch"] == epoch]
    if rows.empty or not any(c.startswith("edge/") for c in rows.columns):
        return None
    row = rows.sort_values("epoch").iloc[-1]
    names = ("L", "A", "V")
    matrices = {}
    for unit in ("homo", "hetero"):
        m = np.zeros((3, 3))
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                if i != j:
                    m[i, j] = float(row.get(f"edge/{unit}/{a}->{b}", 0.0))
        matrices[unit] = m
    return draw_edges_png(matrices, out, title=f"trial {trial_id}, epoch {int(row['epoch'])}")


def dmd_heads_table(epochs: pd.DataFrame, trial_id: str, best_epoch: int) -> list[str]:
    """Markdown rows: each DMD head's validation metrics at the trial's first and best epochs
    (`head/<branch>/<m>/val_<metric>` columns), so the table shows whether the branches learned."""
    rows = epochs[epochs["trial_id"] == trial_id].sort_values("epoch")
    columns = [c for c in rows.columns if c.startswith("head/") and rows[c].notna().any()]
    if rows.empty or not columns:
        return []
    first = rows.iloc[0]
    best = rows[rows["epoch"] == best_epoch].iloc[-1] if (rows["epoch"] == best_epoch).any() else rows.iloc[-1]
    branch_order = {"homo": 0, "hetero": 1, "common": 2}
    heads = sorted({c.rsplit("/", 1)[0][len("head/"):] for c in columns},
                   key=lambda h: (branch_order.get(h.split("/")[0], 3), "LAV".find(h[-1]), h))
    metrics = sorted({c.rsplit("/", 1)[1] for c in columns})
    table = ["| head | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for head in heads:
        cells = [f"{fmt_metric(first.get(f'head/{head}/{m}'))} -> {fmt_metric(best.get(f'head/{head}/{m}'))}"
                 for m in metrics]
        table.append(f"| {head} | " + " | ".join(cells) + " |")
    return [f"Epoch {int(first['epoch'])} -> epoch {int(best['epoch'])}:", "", *table]


def write_report(results_dir: str | Path) -> Path:
    """Write results/<name>/report/ (PNGs + summary.md); returns the summary's path."""
    folder = Path(results_dir)
    meta, trials, epochs = read_results(folder)
    metric, mode, searched = meta["metric"], meta["mode"], list(meta["searched"])
    out = folder / "report"
    out.mkdir(exist_ok=True)
    lines = [f"# Search {folder.name}", "", f"Metric: `{metric}` ({mode}); {len(trials)} trials; "
             + ", ".join(f"{s} {n}" for s, n in trials["status"].value_counts().items()), ""]
    if not epochs.empty and metric in epochs:
        learning_curves(epochs, metric, out / "learning_curves.png",
                        status=dict(zip(trials["trial_id"], trials["status"])) if not trials.empty else {})
        lines += ["![learning curves](learning_curves.png)", ""]
    if searched and not trials.empty and f"best_{metric}" in trials:
        metric_vs_params(trials, searched, metric, out / "metric_vs_params.png", log_params=log_scaled(folder))
        lines += ["![metric against parameters](metric_vs_params.png)", ""]
    imp, used = importances(folder, folder.name)
    finished = f"{used} finished trial{'' if used == 1 else 's'}"
    if not imp and searched:
        lines += ["## Parameter importance", "", f"Not computed: the study has {finished}, too few for "
                  f"{IMPORTANCE_METHOD}.", ""]
        (out / "importances.png").unlink(missing_ok=True)  # an earlier report's would be stale
    if imp:
        note = (f"Only {finished}: below about {FEW_TRIALS}, these importances are a rough hint, "
                "not a ranking." if used < FEW_TRIALS else "")
        bar_chart(imp, f"parameter importance: {IMPORTANCE_METHOD}, {finished}", out / "importances.png",
                  xlabel=f"importance of {metric} (shares summing to 1)", note=note)
        lines += ["## Parameter importance", "", f"Method: {IMPORTANCE_METHOD}, on the study's {finished}; "
                  f"each share is how much of the spread in `{metric}` the parameter explains.", "",
                  *(f"- `{k}`: {v:.3f}" for k, v in imp.items()), "", *([f"> {note}", ""] if note else []),
                  "![importances](importances.png)", ""]
    objectives = meta.get("objectives") or []
    if objectives:
        pareto_plot(trials, metric, mode, objectives, out / "pareto.png")
        lines += ["## Pareto front", "", "![Pareto front](pareto.png)", ""]
    best = best_trial(trials, metric=metric, mode=mode)
    if best is not None:
        lines += ["## Best trial", "", f"`{best['trial_id']}`: {metric} = {fmt_metric(best[f'best_{metric}'])} "
                  f"at epoch {int(best['best_epoch'])}", ""]
        lines += [f"- `{p}` = {fmt_value(best[p])}" for p in searched if p in best.index] + [""]
        lines += [f"Validation at that epoch: {metrics_line(best)}", ""]
        edges = dmd_edges(epochs, best["trial_id"], int(best["best_epoch"]), out / "dmd_edges.png")
        if edges is not None:
            lines += ["## Learned graph edges (paper 003, Fig. 5)", "", "![edges](dmd_edges.png)", ""]
        heads = dmd_heads_table(epochs, best["trial_id"], int(best["best_epoch"]))
        if heads:
            lines += ["## DMD heads, validation (first epoch -> best epoch)", "", *heads, ""]
    record = read_space_record(folder)
    if record is not None:
        lines += ["## How these numbers were produced", "", *settings_lines(record, trials, searched), ""]
    lines += _test_metrics(folder, metric)
    lines += ["## Top trials", "", _markdown_table(rank_trials(trials, metric=metric, mode=mode).head(10),
                                                      searched, metric)]
    summary = out / "summary.md"
    summary.write_text("\n".join(lines) + "\n")
    return summary


def _markdown_table(trials: pd.DataFrame, searched: list[str], metric: str) -> str:
    cols = ["trial_id", *searched, "epochs", f"best_{metric}", "status"]
    cols = [c for c in cols if c in trials.columns]
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols)
    rows = ["| " + " | ".join(fmt_value(r[c]) if c in searched else str(r[c]) for c in cols) + " |"
            for _, r in trials.iterrows()]
    return "\n".join([head, *rows])


def _test_metrics(folder: Path, metric: str) -> list[str]:
    """The test-split figures `kdsearch evaluate` wrote (evaluation.parquet), if it ran."""
    path = folder / "evaluation.parquet"
    if not path.is_file():
        return ["## Test split", "", "Not evaluated yet: `kdsearch evaluate` scores the best trials on the test "
                "split once and writes evaluation.parquet, which this report then shows.", ""]
    table = pd.read_parquet(path)
    cols = [c for c in ["trial_id", "epoch", f"best_{metric}", *(c for c in table.columns if c.startswith("test_"))]
            if c in table.columns]
    head = "| " + " | ".join(c.replace("best_", "valid ") for c in cols) + " |\n|" + "---|" * len(cols)
    rows = ["| " + " | ".join(fmt_metric(r[c]) if isinstance(r[c], float) else str(r[c]) for c in cols) + " |"
            for _, r in table.iterrows()]
    return ["## Test split (kdsearch evaluate)", "", "Each trial at its best validation epoch; chosen on validation, "
            "scored on test once.", "", head, *rows, ""]
