"""confirm.md and confirm.png from `confirm_stats.summarise`'s report."""

from __future__ import annotations

from pathlib import Path

from kdsearch.verbs.confirm_stats import SHOWN_TEST, TESTS


def _cell(s: dict | None, signed: bool = False) -> str:
    if not s or s.get("mean") is None:
        return "-"
    sign = "+" if signed and s["mean"] > 0 else ""
    std = "" if s.get("std") is None else f" ± {s['std']:.4f}"
    return f"{sign}{s['mean']:.4f}{std}"


def _p(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def markdown(report: dict, *, source: str = "") -> str:
    metrics, confs = report["metrics"], report["configurations"]
    seeds = ", ".join(map(str, report["seeds"]))
    lines = [f"# kdsearch confirm{f' · {source}' if source else ''}", "",
             f"Test split, each run at its epoch chosen on the validation split ({report['metric']}, "
             f"{report['mode']}); mean ± std (sample std) over training seeds {seeds}.", "",
             "| configuration | seeds | " + " | ".join(f"test {m}" for m in metrics) + " |",
             "|---|---|" + "---|" * len(metrics)]
    for label, c in confs.items():
        lines.append(f"| {label} | {len(c['seeds'])} | " + " | ".join(_cell(c["test"].get(m)) for m in metrics) + " |")
    for name, values in report["teacher"].items():
        lines.append(f"| teacher: {name} | - | " + " | ".join(_cell({"mean": values[m]}) if m in values else "-"
                                                            for m in metrics) + " |")
    if report["chance"]:
        lines.append("| chance (constant prediction from the training labels) | - | "
                     + " | ".join(_cell({"mean": report["chance"][m]}) if m in report["chance"] else "-"
                                  for m in metrics) + " |")
    lines += ["", f"Paired difference to the no-KD baseline (configuration − baseline, same seeds); "
                  f"p: {TESTS[SHOWN_TEST]} test on the per-seed differences (the paired t-test's p-values are "
                  "in confirm.json as ttest_p).", "",
              "| configuration | vs | " + " | ".join(f"Δ test {m} (p)" for m in metrics) + " |",
              "|---|---|" + "---|" * len(metrics)]
    for label, c in confs.items():
        if "vs_baseline" not in c:
            continue
        cells = [f"{_cell(c['vs_baseline'][m], signed=True)} ({_p(c['vs_baseline'][m][f'{SHOWN_TEST}_p'])})"
                 for m in metrics]
        lines.append(f"| {label} | {c['baseline']} | " + " | ".join(cells) + " |")
    lines += ["", "Configurations:", ""]
    for label, c in confs.items():
        values = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in c["overrides"].items())
        origin = f" (search trial {c['trial']})" if c.get("trial") else ""
        lines.append(f"- {label}{origin}: {values or 'the fixed configuration'}; epochs chosen: "
                     f"{', '.join(map(str, c['epochs'])) or '-'}")
    return "\n".join(lines) + "\n"


def plot(report: dict, out: Path) -> Path:
    """One panel per test metric: each configuration's seeds (dots) and mean ± std (bar), the
    teacher (dashed) and chance (dotted) as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics, confs = report["metrics"], report["configurations"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.6), squeeze=False)
    labels = list(confs)
    for ax, m in zip(axes[0], metrics):
        for i, label in enumerate(labels):
            s = confs[label]["test"].get(m)
            if not s or s["mean"] is None:
                continue
            colour = "tab:grey" if label.startswith("no-KD") else "tab:blue"
            ax.bar(i, s["mean"], yerr=s["std"] or 0.0, color=colour, alpha=0.5, capsize=4)
            ax.scatter([i] * len(s["values"]), s["values"], color="black", s=10, zorder=3)
        for name, values in report["teacher"].items():
            if m in values:
                ax.axhline(values[m], color="tab:red", ls="--", lw=1, label=f"teacher {name}")
        if m in report["chance"]:
            ax.axhline(report["chance"][m], color="black", ls=":", lw=1, label="chance")
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=7)
        ax.set_title(f"test {m}", fontsize=9)
    handles, names = axes[0][0].get_legend_handles_labels()
    if handles:
        axes[0][0].legend(handles, names, fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
