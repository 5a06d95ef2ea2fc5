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

from kdsearch.results.store import read_results
from kdsearch.results.table import best_trial, fmt_metric, fmt_value, rank_trials


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def learning_curves(epochs: pd.DataFrame, metric: str, out: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    for trial_id, rows in epochs.groupby("trial_id"):
        rows = rows.sort_values("epoch")
        if metric in rows:
            ax.plot(rows["epoch"], rows[metric], marker=".", linewidth=1, alpha=0.8, label=str(trial_id))
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per trial (validation)")
    if epochs["trial_id"].nunique() <= 12:
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def metric_vs_params(trials: pd.DataFrame, searched: list[str], metric: str, out: Path) -> Path:
    plt = _plt()
    fig, axes = plt.subplots(1, max(1, len(searched)), figsize=(3.2 * max(1, len(searched)), 3.2), squeeze=False)
    column = f"best_{metric}"
    for ax, param in zip(axes[0], searched):
        x = trials[param]
        numeric = pd.to_numeric(x, errors="coerce")
        colors = trials["status"].map({"done": "tab:green", "stopped": "tab:orange", "error": "tab:red"}).fillna("grey")
        if numeric.notna().all():
            ax.scatter(numeric, trials[column], c=colors, s=18)
        else:  # categorical: one column per choice
            labels = sorted(x.astype(str).unique())
            pos = x.astype(str).map({v: i for i, v in enumerate(labels)})
            ax.scatter(pos, trials[column], c=colors, s=18)
            ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=7)
        ax.set_xlabel(param, fontsize=8)
        ax.set_ylabel(column, fontsize=8)
    fig.suptitle(f"best {metric} against each searched parameter (green done, orange stopped by ASHA)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def importances(results_dir: Path, study_name: str) -> dict[str, float]:
    """Optuna's parameter importances on the study (empty when too few trials finished)."""
    import optuna

    journal = results_dir / "optuna.journal"
    if not journal.is_file():
        return {}
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    import warnings

    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
        warnings.filterwarnings("ignore", message="PedAnovaImportanceEvaluator computes")
        if len(study.directions) > 1:
            return {k: float(v) for k, v in optuna.importance.get_param_importances(
                study, target=lambda t: t.values[0] if t.values else float("nan")).items()}
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError, KeyError):  # fewer than two completed trials, one value...
        return {}


def bar_chart(values: dict[str, float], title: str, out: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.4 * len(values)))
    names = list(values)[::-1]
    ax.barh(names, [values[n] for n in names], color="tab:blue")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
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
        learning_curves(epochs, metric, out / "learning_curves.png")
        lines += ["![learning curves](learning_curves.png)", ""]
    if searched and not trials.empty and f"best_{metric}" in trials:
        metric_vs_params(trials, searched, metric, out / "metric_vs_params.png")
        lines += ["![metric against parameters](metric_vs_params.png)", ""]
    imp = importances(folder, folder.name)
    if imp:
        bar_chart(imp, "parameter importance (Optuna PED-ANOVA)", out / "importances.png")
        lines += ["## Parameter importance", "", *(f"- `{k}`: {v:.3f}" for k, v in imp.items()), "",
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
        edges = dmd_edges(epochs, best["trial_id"], int(best["best_epoch"]), out / "dmd_edges.png")
        if edges is not None:
            lines += ["## Learned graph edges (paper 003, Fig. 5)", "", "![edges](dmd_edges.png)", ""]
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
