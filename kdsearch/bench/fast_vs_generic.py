"""`kdsearch bench --search SPACE`: the same seeded search run the generic way and the fast way
(and with `--packed K` a third way, "packed": the fast way with K students per worker).

Generic: what wiring Ray Tune and Optuna together by hand gives (one student per worker, the
frozen teacher run in every training step: `distill.teacher_cache: off`,
`resources.students_per_worker: 1`). Fast: kdsearch's defaults for this device. Both runs use
the same space, sampler seed, trial count and CPUs, one after the other in this process; the
dataset and the teacher are prepared before either clock starts (they are cached per machine),
while the fast run's teacher targets are computed inside its clock (a first search pays them).

Per run: wall time, trials per hour, student steps per second (training batches of every trial,
over the wall time), the best validation metric; then the fast/generic ratios, and packed/fast
(packed pays for its teacher targets inside its clock too, so the two compare like for like).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from pathlib import Path

GENERIC = {"distill.teacher_cache": "off", "resources.students_per_worker": 1}


def _overrides(space_arg: str, way: str, packed: int | None = None) -> dict:
    """The settings that make `way`; keys the installed schema lacks are left out."""
    from kdsearch.spec.schema import RESOURCES_DEFAULTS

    if way == "fast":
        return {}
    if way == "packed":
        return {"resources.students_per_worker": int(packed)}
    return {k: v for k, v in GENERIC.items()
            if not k.startswith("resources.") or k.split(".", 1)[1] in RESOURCES_DEFAULTS}


def _clear_targets(space) -> None:
    """Drop this space's cached teacher targets, so the fast run pays for computing them."""
    from kdsearch.data.source import load_for_search
    from kdsearch.spec.teacher_cache_plan import teacher_configs
    from kdsearch.train.teacher_targets import key_for_config, targets_path

    fingerprint = load_for_search(space.config["data"]).fingerprint
    for cfg in teacher_configs(space):
        shutil.rmtree(targets_path(key_for_config(cfg, fingerprint)).parent, ignore_errors=True)


def _prepare(space) -> float:
    """Dataset and teachers into the cache before the clocks start; returns the seconds taken."""
    from kdsearch.data.source import load_for_search
    from kdsearch.spec.teacher_cache_plan import teacher_configs
    from kdsearch.train.teacher_cache import get_teacher

    started = time.perf_counter()
    dataset = load_for_search(space.config["data"])
    for cfg in teacher_configs(space):
        get_teacher(cfg, dataset)
    return time.perf_counter() - started


def run_one(space_arg: str, way: str, *, num_samples: int | None, cpus: int | None, root: str, console,
            packed: int | None = None) -> dict:
    from kdsearch.results.store import read_results
    from kdsearch.search.driver import RunOptions, run_search
    from kdsearch.spec.space import load_space
    from kdsearch.spec.teacher_cache_plan import plan_for_space
    from kdsearch.spec.kinds import kind_of

    overrides = _overrides(space_arg, way, packed)
    space = load_space(space_arg, overrides=overrides)
    if way != "generic":
        _clear_targets(space)
    plan = plan_for_space(space) if kind_of(space.config).name == "distill" else None
    opts = RunOptions(cpus=cpus, gpus=None, num_samples=num_samples, name=way, results_root=root)
    outcome = run_search(space, opts, console)
    _, trials, epochs = read_results(Path(root) / way)
    metric, mode = space.search["metric"], space.search["mode"]
    best_col = trials.get(f"best_{metric}")
    best = None
    if best_col is not None and best_col.notna().any():
        best = float(best_col.max() if mode == "max" else best_col.min())
    steps_per_epoch = math.ceil(_train_size(space) / int(space.config["train"]["batch_size"]))
    steps = int(len(epochs)) * steps_per_epoch
    return {"way": way, "overrides": overrides, "teacher_cache": bool(plan and plan.use),
            "trials": int(len(trials)), "trial_epochs": int(len(epochs)), "wall_s": outcome.wall_s,
            "trials_per_hour": len(trials) / outcome.wall_s * 3600.0, "student_steps": steps,
            "student_steps_per_s": steps / outcome.wall_s, f"best_{metric}": best, "metric": metric, "mode": mode,
            "students_per_worker": int(space.resources.get("students_per_worker", 1))}


def _train_size(space) -> int:
    from kdsearch.data.source import train_size

    return train_size(space.config["data"])


def compare_searches(space_arg: str, *, num_samples: int | None = None, cpus: int | None = None,
                     console=None, steps: bool = True, packed: int | None = None) -> dict:
    """Run the generic then the fast search of `space_arg`, then with `packed` K the packed one;
    with `steps`, the cache step comparison first."""
    from rich.console import Console

    from kdsearch.spec.space import load_space

    console = console or Console(quiet=True)
    load_avg = {"start": _load()}
    result: dict = {"space": space_arg, "cpu_count": os.cpu_count(), "num_samples": num_samples,
                    "students_per_worker": packed}  # the packed run itself is result["packed"]
    if steps:
        from kdsearch.bench.cache_steps import cache_step_comparison

        result["steps"] = cache_step_comparison()
    result["prep_s"] = _prepare(load_space(space_arg))
    with tempfile.TemporaryDirectory(prefix="kdsearch-bench-") as root:
        runs = {way: run_one(space_arg, way, num_samples=num_samples, cpus=cpus, root=root, console=console,
                             packed=packed)
                for way in ways(packed)}
    result.update(runs)
    result["ratio"] = ratios(runs["fast"], runs["generic"])
    if packed:
        result["ratio_packed"] = ratios(runs["packed"], runs["fast"])
    load_avg["end"] = _load()
    result["load_avg"] = load_avg
    result["uptime"] = _uptime()
    return result


def ways(packed: int | None) -> tuple[str, ...]:
    return ("generic", "fast", "packed") if packed else ("generic", "fast")


def ratios(run: dict, base: dict) -> dict:
    """`run` against `base`: throughput ratios (> 1: `run` is faster) and the best metrics' ratio."""
    best = f"best_{base['metric']}"
    have_best = run.get(best) is not None and base.get(best)
    return {"trials_per_hour": run["trials_per_hour"] / base["trials_per_hour"],
            "student_steps_per_s": run["student_steps_per_s"] / base["student_steps_per_s"],
            "wall_s": base["wall_s"] / run["wall_s"], best: run[best] / base[best] if have_best else None}


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _uptime() -> str:
    import subprocess

    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def print_comparison(result: dict, console) -> None:
    from rich.table import Table

    for name, entry in result.get("steps", {}).items():
        console.print(f"config-5 EDAM step, {name}, batch {entry['batch']}: teacher online "
                      f"{entry['online']['median_ms']:.1f} ms, teacher cache {entry['cached']['median_ms']:.1f} ms "
                      f"= {entry['speedup']:.2f}x (by CPU time {entry['speedup_cpu_time'] or float('nan'):.2f}x)",
                      highlight=False)
    metric = result["generic"]["metric"]
    packed = result.get("students_per_worker")
    title = "generic vs fast" + (f" vs packed ({packed} students per worker)" if packed else "")
    table = Table(title=f"kdsearch bench --search {result['space']}: {title}", title_justify="left")
    for column in ("way", "teacher cache", "trials", "wall s", "trials/hour", "student steps/s", f"best {metric}"):
        table.add_column(column, justify="left" if column == "way" else "right")
    for way in ways(packed):
        r = result[way]
        best = r[f"best_{metric}"]
        table.add_row(way, "on" if r["teacher_cache"] else "off", str(r["trials"]), f"{r['wall_s']:.1f}",
                      f"{r['trials_per_hour']:.0f}", f"{r['student_steps_per_s']:.1f}",
                      "n/a" if best is None else f"{best:.4f}")
    for label, key in (("fast / generic", "ratio"), ("packed / fast", "ratio_packed")):
        if key in result:
            ratio = result[key]
            best = ratio.get(f"best_{metric}")
            table.add_row(label, "", "", f"{ratio['wall_s']:.2f}x", f"{ratio['trials_per_hour']:.2f}x",
                          f"{ratio['student_steps_per_s']:.2f}x", "" if best is None else f"{best:.3f}x")
    console.print(table)
    console.print(f"load average {result['load_avg']['start']} -> {result['load_avg']['end']} on "
                  f"{result['cpu_count']} CPUs ({result['uptime']}); dataset and teacher prepared outside the clocks "
                  f"({result['prep_s']:.1f} s)", highlight=False)
