"""Driver memory against finished trials: a 200-trial search of a tiny model on this machine.

Ray Tune's default logger callbacks keep every trial alive in the driver (RSS grows with the
number of trials: docs/architecture.md); kdsearch turns them off and keeps only plain rows.
This runs one real search (`run_search`, Ray, ASHA, Optuna TPE, the parquet writer and the live
leaderboard) and records the driver's resident memory (VmRSS) each time a trial ends, then
prints a table and the fitted growth per trial, and writes everything to JSON.

    .venv/bin/python benchmarks/driver_memory.py                     # 200 trials, kdsearch's setup
    .venv/bin/python benchmarks/driver_memory.py --ray-loggers       # Tune's own loggers back on
    .venv/bin/python benchmarks/driver_memory.py --trials 50 --out /tmp/mem.json
    .venv/bin/python benchmarks/driver_memory.py --tracemalloc 50   # who holds the growth (slower)

With --tracemalloc N, Python allocations are traced and the snapshot taken after trial N is
compared with the one at the end: the lines (with their callers) whose live memory grew most
are printed, i.e. what the driver keeps per trial.

Minutes of CPU time: not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

SAMPLES: list[dict] = []  # module-level: Tune may copy the callback, the list stays shared
SNAPSHOTS: dict = {}  # trial count -> tracemalloc snapshot (with --tracemalloc)
TRACE_AT: list[int] = []


def rss_mib() -> float:
    """This process's resident memory in MiB (from /proc: no psutil needed)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def make_probe():
    from ray import tune

    class RssProbe(tune.Callback):
        """Samples the driver's RSS when the experiment starts and whenever a trial ends."""

        def setup(self, **info):
            SAMPLES.append({"ended": 0, "rss_mib": rss_mib(), "t": time.time()})

        def _ended(self):
            SAMPLES.append({"ended": SAMPLES[-1]["ended"] + 1 if SAMPLES else 1, "rss_mib": rss_mib(),
                            "t": time.time()})
            if SAMPLES[-1]["ended"] in TRACE_AT:
                import gc
                import tracemalloc

                gc.collect()  # count what is kept, not garbage waiting for a cycle collection
                SNAPSHOTS[SAMPLES[-1]["ended"]] = tracemalloc.take_snapshot()

        def on_trial_complete(self, iteration, trials, trial, **info):
            self._ended()

        def on_trial_error(self, iteration, trials, trial, **info):
            self._ended()

    return RssProbe()


def space_file(folder: Path, trials: int, epochs: int, data: Path) -> Path:
    raw = {
        "name": "memory",
        "data": {"path": str(data)},
        "student": {"config": 5, "d_model": 8, "heads": 2, "layers": 1},
        "loss": {"alpha": 1.0, "beta": 0.0},  # no teacher: the driver, not training, is measured
        "train": {"epochs": epochs, "batch_size": 64, "lr": 3.0e-3},
        "params": {"train.lr": {"type": "float", "low": 1.0e-4, "high": 1.0e-1, "log": True},
                   "train.weight_decay": {"type": "float", "low": 0.0, "high": 1.0e-2}},
        "search": {"num_samples": trials, "scheduler": {"name": "asha", "grace_period": 1, "reduction_factor": 2},
                   "sampler": {"name": "tpe", "seed": 0, "n_startup_trials": 10}},
        "resources": {"cpus_per_trial": 1, "gpus_per_trial": 0},
    }
    path = folder / "memory.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def slope_kib_per_trial(points: list[dict], skip: int) -> float:
    """Least-squares growth of RSS per ended trial, after the first `skip` (warm-up)."""
    pts = [(p["ended"], p["rss_mib"]) for p in points if p["ended"] >= skip]
    if len(pts) < 2:
        return float("nan")
    n = len(pts)
    mx, my = sum(x for x, _ in pts) / n, sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return 1024 * sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=2, help="max epochs per trial (ASHA stops most at 1)")
    parser.add_argument("--every", type=int, default=20, help="table row every N ended trials")
    parser.add_argument("--cpus", type=int, default=None)
    parser.add_argument("--ray-loggers", action="store_true", help="turn Tune's JSON/CSV/TBX loggers back on")
    parser.add_argument("--out", default="driver_memory.json")
    parser.add_argument("--keep", action="store_true", help="keep the search's results folder (in a temp dir)")
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="N",
                        help="trace allocations; diff the snapshot after trial N against the last trial's")
    args = parser.parse_args(argv)
    if args.tracemalloc:
        TRACE_AT.extend([args.tracemalloc, args.trials])

    if args.ray_loggers:
        os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "0"  # run_search only sets a default
    from rich.console import Console

    import kdsearch.search.tuner as tuner_module
    from kdsearch.data.synthetic import generate
    from kdsearch.search.driver import RunOptions, run_search
    from kdsearch.spec.space import load_space

    work = Path(tempfile.mkdtemp(prefix="kdsearch-memory-"))
    os.environ.setdefault("KDSEARCH_CACHE", str(work / "cache"))
    data = work / "tiny.h5"
    generate(str(data), preset="small", seed=0, n_train=64, n_valid=32, n_test=32)
    space = load_space(str(space_file(work, args.trials, args.epochs, data)))

    original = tuner_module.build_callbacks
    tuner_module.build_callbacks = lambda *a, **k: [*original(*a, **k), make_probe()]
    started_rss = rss_mib()
    if args.tracemalloc:  # only now: tracing imports and validation would take minutes
        import tracemalloc

        tracemalloc.start(10)
    with open(os.devnull, "w") as quiet:
        outcome = run_search(space, RunOptions(name="memory", cpus=args.cpus, results_root=str(work / "results")),
                             Console(file=quiet, width=160))
    tuner_module.build_callbacks = original
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)

    t0 = SAMPLES[0]["t"]
    print(f"Driver RSS against ended trials ({'Tune loggers ON' if args.ray_loggers else 'kdsearch default'}):")
    print(f"{'ended':>6} {'RSS MiB':>9} {'delta':>8} {'elapsed s':>10}")
    shown = [p for p in SAMPLES if p["ended"] % args.every == 0 or p is SAMPLES[-1]]
    for p in shown:
        print(f"{p['ended']:>6} {p['rss_mib']:>9.1f} {p['rss_mib'] - SAMPLES[0]['rss_mib']:>+8.1f} "
              f"{p['t'] - t0:>10.1f}")
    skip = min(20, args.trials // 4)
    slope = slope_kib_per_trial(SAMPLES, skip)
    print(f"growth after the first {skip} trials: {slope:.1f} KiB per trial "
          f"({slope * 1000 / 1024:.1f} MiB per 1,000 trials); search took {outcome.wall_s:.0f} s")
    report = {"trials": args.trials, "epochs": args.epochs, "ray_loggers": args.ray_loggers,
              "rss_before_search_mib": started_rss, "samples": SAMPLES, "slope_kib_per_trial": slope,
              "wall_s": outcome.wall_s, "python": sys.version.split()[0], "machine": platform.machine(),
              "cpus": os.cpu_count()}
    if len(SNAPSHOTS) == 2:
        report["tracemalloc"] = print_growth(SNAPSHOTS[args.tracemalloc], SNAPSHOTS[args.trials],
                                             args.trials - args.tracemalloc)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    return 0


def print_growth(before, after, trials: int, top: int = 15) -> list[dict]:
    """The allocation sites (innermost kdsearch/ray/optuna frames shown) that grew most."""
    import tracemalloc

    keep = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen *>")]
    stats = after.filter_traces(keep).compare_to(before.filter_traces(keep), "traceback")
    total = sum(s.size_diff for s in stats)
    print(f"\ntracemalloc: live Python memory grew {total / 1024:.0f} KiB over {trials} trials "
          f"({total / 1024 / max(trials, 1):.1f} KiB per trial); top sites:")
    rows = []
    for stat in stats[:top]:
        frames = [f"{f.filename.split('site-packages/')[-1]}:{f.lineno}" for f in stat.traceback]
        print(f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  " + " <- ".join(frames[-4:][::-1]))
        rows.append({"kib": stat.size_diff / 1024, "blocks": stat.count_diff, "traceback": frames})
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
