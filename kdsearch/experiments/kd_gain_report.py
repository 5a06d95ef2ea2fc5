"""The kd-gain report: per-seed rows -> mean ± std summary (JSON) -> a Markdown table.

Spreads are sample standard deviations over seeds (ddof=1; 0 for a single seed). The gains are
paired by seed (the two students of one seed share the data, the teacher and the labelled
subset), so a gain's spread is that of the per-seed differences.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

METRICS = ("acc7", "f1")
FOCUS_KEYS = ("event_mass", "event_uniform", "event_lift", "window_mass", "window_uniform", "window_lift")


def spread(values: list[float]) -> dict:
    """{"mean", "std", "values"} with the sample std (0 for one value)."""
    arr = np.asarray(values, dtype=float)
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return {"mean": float(arr.mean()), "std": std, "values": [float(v) for v in arr]}


def verdict(gains: list[float], winner: str, loser: str) -> str:
    """One honest sentence about paired per-seed gains of `winner` over `loser`."""
    mean = float(np.mean(gains))
    points = f"{100 * mean:+.1f} points"
    if mean > 0 and all(g > 0 for g in gains):
        return f"{winner} beats {loser} on every seed ({points} on average)."
    if mean > 0:
        return f"{winner} is ahead of {loser} on average ({points}) but not on every seed."
    return f"{winner} does NOT beat {loser} ({points} on average)."


def _focus_summary(rows: list[dict], model: str) -> dict[str, dict]:
    pairs = sorted({p for r in rows for p in r[model].get("focus", {})})
    return {p: {k: float(np.mean([r[model]["focus"][p][k] for r in rows if p in r[model]["focus"]]))
                for k in FOCUS_KEYS} for p in pairs}


def settings_of(config: dict, opts, rows: list[dict]) -> dict:
    """The facts a reader needs to reproduce or judge the table."""
    from kdsearch.data.synthetic import resolve_params

    params = dataclasses.asdict(resolve_params(config["data"]["synthetic"], **opts.generator))
    train = config["train"]
    return {
        "space": opts.space, "preset": config["data"]["synthetic"], "generator": params,
        "generator_overrides": dict(opts.generator), "overrides": dict(opts.overrides),
        "teacher": dict(config["teacher"]), "teacher_train": dict(config["teacher_train"]),
        "student": dict(config["student"]), "train": dict(train), "loss": dict(config["loss"]),
        "distill": {k: v for k, v in config["distill"].items() if k != "pairs"},
        "pairs": rows[0]["pairs"] if rows else config["distill"]["pairs"],
        "labelled": rows[0]["kd"]["labelled"] if rows else None, "n_train": params["n_train"],
    }


def summarise(rows: list[dict], *, config: dict, opts, search: dict, device: str, wall_s: float) -> dict:
    """The JSON report of a kd-gain run."""
    summary = {m: {k: spread([r[m]["test"][k] for r in rows]) for k in METRICS} for m in ("teacher", "no_kd", "kd")}
    gains = {
        "kd_minus_no_kd": {k: spread([r["kd"]["test"][k] - r["no_kd"]["test"][k] for r in rows]) for k in METRICS},
        "teacher_minus_no_kd": {k: spread([r["teacher"]["test"][k] - r["no_kd"]["test"][k] for r in rows])
                                for k in METRICS},
    }
    return {
        "experiment": "kd-gain", "seeds": [r["seed"] for r in rows], "device": device,
        "wall_s": round(wall_s, 1), "selection": {"metric": search["metric"], "mode": search["mode"]},
        "settings": settings_of(config, opts, rows), "summary": summary, "gains": gains,
        "focus": {m: _focus_summary(rows, m) for m in ("teacher", "no_kd", "kd")},
        "verdict": {
            "teacher_vs_no_kd": verdict(gains["teacher_minus_no_kd"]["acc7"]["values"], "The teacher", "the no-KD student"),
            "kd_vs_no_kd": verdict(gains["kd_minus_no_kd"]["acc7"]["values"], "The distilled student",
                                   "the no-KD student"),
        },
        "per_seed": rows,
    }


def _pct(s: dict, signed: bool = False) -> str:
    sign = "+" if signed and s["mean"] > 0 else ""
    if len(s.get("values", ())) < 2:  # one seed has no spread to show; "± 0.0" would claim one
        return f"{sign}{100 * s['mean']:.1f}"
    return f"{sign}{100 * s['mean']:.1f} ± {100 * s['std']:.1f}"


def _pairs_text(pairs: dict) -> str:
    return ", ".join(f"student {s} ← teacher {t}" for s, t in pairs.items())


def _model_titles(st: dict) -> dict[str, str]:
    method = st["distill"].get("method", "edam").upper()
    n_train, labelled = st["n_train"], st["labelled"]
    return {
        "teacher": f"teacher: MulT {st['teacher'].get('branch', 'complete')}, text + audio + video, "
                   f"all {n_train} labels",
        "no_kd": f"student: video only, no KD (β = 0), {labelled} labels",
        "kd": f"student: video only, {method} (β = {st['loss']['beta']:g}, t = {st['distill'].get('temperature', 1):g}), "
              f"{labelled} labels + teacher maps on all {n_train}",
    }


def markdown(report: dict) -> str:
    """The report as Markdown: headline table, verdicts, where the maps look, settings, per seed."""
    st, seeds = report["settings"], report["seeds"]
    titles = _model_titles(st)
    over = (f"mean ± std over seeds {', '.join(map(str, seeds))} (sample std)" if len(seeds) > 1
            else f"one seed ({seeds[0]}): no spread to show")
    lines = [f"Test split, {over}, in %; each model's "
             f"epoch chosen on the validation split ({report['selection']['metric']}).", "",
             "| model | test acc7 | test F1 (weighted) | epoch chosen |", "|---|---|---|---|"]
    for m in ("teacher", "no_kd", "kd"):
        epochs = ", ".join(str(r[m]["epoch"]) for r in report["per_seed"])
        lines.append(f"| {titles[m]} | {_pct(report['summary'][m]['acc7'])} | {_pct(report['summary'][m]['f1'])} "
                     f"| {epochs} |")
    gain = report["gains"]["kd_minus_no_kd"]
    lines.append(f"| distilled − no KD (paired by seed) | {_pct(gain['acc7'], True)} | {_pct(gain['f1'], True)} | |")
    lines += ["", f"- {report['verdict']['teacher_vs_no_kd']}", f"- {report['verdict']['kd_vs_no_kd']}", ""]
    lines += _focus_lines(report)
    lines += _settings_lines(report)
    lines += ["", "Per seed (test acc7, %):", "", "| seed | teacher | no KD | distilled | gain | seconds |",
              "|---|---|---|---|---|---|"]
    for r in report["per_seed"]:
        t, n, k = (100 * r[m]["test"]["acc7"] for m in ("teacher", "no_kd", "kd"))
        lines.append(f"| {r['seed']} | {t:.1f} | {n:.1f} | {k:.1f} | {k - n:+.1f} | {r['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def _focus_lines(report: dict) -> list[str]:
    focus, pairs = report["focus"], report["settings"]["pairs"]
    rows = [(f"teacher {t} (distilled)", focus["teacher"][t]) for t in dict.fromkeys(pairs.values())
            if t in focus["teacher"]]
    for s_pair in pairs:
        for m, title in (("no_kd", "no-KD student"), ("kd", "distilled student")):
            if s_pair in focus[m]:
                rows.append((f"{title} {s_pair}", focus[m][s_pair]))
    if not rows:
        return []
    out = ["Where the distilled maps look: attention mass on the planted event steps, and within ±1 step of them "
           "(with a kernel-3 input conv, step e-1 already holds event e), with the share uniform attention would "
           "give; validation split, heads averaged, mean over layers, rows and seeds:", "",
           "| map | on events (uniform) | lift | within ±1 step (uniform) | lift |", "|---|---|---|---|---|"]
    out += [f"| {name} | {f['event_mass']:.3f} ({f['event_uniform']:.3f}) | {f['event_lift']:.2f}× "
            f"| {f['window_mass']:.3f} ({f['window_uniform']:.3f}) | {f['window_lift']:.2f}× |"
            for name, f in rows if not math.isnan(f["event_lift"])]
    return out + [""]


def _settings_lines(report: dict) -> list[str]:
    st = report["settings"]
    g = st["generator"]
    knobs = ", ".join(f"{k}={v:g}" for k, v in g.items() if not k.startswith("n_") and not k.endswith(("_dim", "_len")))
    t, s, tr = st["teacher"], st["student"], st["train"]
    return [
        "Settings:", "",
        f"- data: synthetic preset `{st['preset']}`, one dataset per seed ({g['n_train']}/{g['n_valid']}/{g['n_test']} "
        f"train/valid/test, lengths text {g['text_len']}, audio {g['audio_len']}, vision {g['vision_len']}); knobs: {knobs}",
        f"- teacher: d_model {t['d_model']}, {t['heads']} heads, {t['layers']} layers, input conv kernel "
        f"{t.get('conv_kernel', 3)}, {st['teacher_train']['epochs']} epochs, lr {st['teacher_train']['lr']:g}",
        f"- students: configuration {s['config']} ({s['align']}, proxies downsampled by {s.get('downsample')}), "
        f"d_model {s['d_model']}, {s['heads']} heads, {s['layers']} layers, input conv kernel "
        f"{s.get('conv_kernel', 3)}, {tr['epochs']} epochs, batch {tr['batch_size']}, lr {tr['lr']:g}",
        f"- labelled fraction {tr['labelled_fraction']:g}: the students' task loss sees {st['labelled']} of "
        f"{st['n_train']} training labels (the same subset for both); the distillation term runs on all {st['n_train']}",
        f"- distillation: {st['distill'].get('method')}, {_pairs_text(st['pairs'])}; α = {st['loss']['alpha']:g}, "
        f"β = {st['loss']['beta']:g}, " + ", ".join(f"{k} = {v}" for k, v in st["distill"].items()
                                                  if k not in ("method", "level")),
        f"- space `{st['space']}`, device {report['device']}, wall time {report['wall_s'] / 60:.1f} min; "
        f"re-run: `kdsearch experiment kd-gain{_space_flag(st['space'])} --seeds {' '.join(map(str, report['seeds']))}`",
    ]


def _space_flag(space: str) -> str:
    """`` --space X`` unless X is the experiment's default space (the re-run command must be exact)."""
    from kdsearch.experiments.kd_gain import DEFAULT_SPACE

    return "" if space in (DEFAULT_SPACE, f"search_spaces/{DEFAULT_SPACE}.yaml") else f" --space {space}"
