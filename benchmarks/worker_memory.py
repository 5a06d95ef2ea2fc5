"""Trial worker memory against dataset size: the `mosei` preset with 1 and 4 concurrent trials.

The search puts the dataset into Ray's object store once (`tune.with_parameters`); trials read
the arrays zero-copy, so the shared pages of the object store show up in a worker's RSS while
its *private* memory (USS: what the worker alone costs the machine) stays the size of the model,
optimiser and activations, whatever the dataset. This runs the real `kdsearch run` as a
subprocess, samples every trial worker's /proc/<pid>/smaps_rollup once a second (RSS, PSS,
USS), stops the search after `--seconds` of training (memory is reached in the first steps;
a full MOSEI epoch on a 2-core CPU takes many minutes), and prints a table.

    .venv/bin/python benchmarks/worker_memory.py                          # mosei, 1 and 4 trials
    .venv/bin/python benchmarks/worker_memory.py --preset small --seconds 30
    .venv/bin/python benchmarks/worker_memory.py --out /tmp/worker_mem.json

The teacher put in the cache is untrained (random weights): memory does not depend on them, and
training a MOSEI-sized teacher on a CPU would take hours. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

SPACE = {
    "name": "worker_memory",
    "task": "classification",
    "teacher": {"branch": "complete", "d_model": 8, "heads": 2, "layers": 1},
    "teacher_train": {"epochs": 1, "batch_size": 24},
    "student": {"config": 5, "align": "student_down", "d_model": 8, "heads": 2, "layers": 1},
    "distill": {"method": "edam", "level": "attention_maps"},
    "loss": {"alpha": 1.0, "beta": 1.0},
    "train": {"epochs": 1, "batch_size": 24},
    "params": {"distill.temperature": {"type": "float", "low": 0.5, "high": 4.0}},
    "search": {"metric": "val_acc7", "mode": "max", "scheduler": {"name": "fifo"},
               "sampler": {"name": "random", "seed": 0}},
}


def smaps_mib(pid: int) -> dict[str, float] | None:
    """RSS, PSS and USS (private clean + dirty) of one process, in MiB; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    kib = {}
    for line in text.splitlines()[1:]:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            kib[key] = int(parts[0])
    return {"rss": kib.get("Rss", 0) / 1024, "pss": kib.get("Pss", 0) / 1024,
            "uss": (kib.get("Private_Clean", 0) + kib.get("Private_Dirty", 0)) / 1024}


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rpartition(")")[2].split()[1])


def _descends_from(pid: int, root: int) -> bool:
    while pid > 1:
        if pid == root:
            return True
        pid = _parent(pid)
    return False


def trial_workers(root: int) -> list[int]:
    """Pids of Ray processes running a function trainable (their title names ImplicitFunc) that
    descend from `root` (our driver started its Ray, so other searches on the machine don't count)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("ray::") and "ImplicitFunc" in cmd and _descends_from(int(proc.name), root):
            pids.append(int(proc.name))
    return pids


def seed_teacher(space_file: Path, data_path: Path, cache: Path) -> None:
    """Puts an untrained teacher where the search looks for the trained one (see module doc)."""
    import h5py

    from kdsearch.data.source import dataset_shapes
    from kdsearch.train.teachers import build_any_teacher
    from kdsearch.spec.combos import categorical_configs
    from kdsearch.spec.space import load_space
    from kdsearch.train.teacher_cache import save_teacher_blob, teacher_path

    os.environ["KDSEARCH_CACHE"] = str(cache)
    dims, lengths = dataset_shapes({"path": str(data_path)})  # reads no arrays
    with h5py.File(data_path, "r") as f:
        fingerprint = str(f.attrs["fingerprint"])
    config = categorical_configs(load_space(str(space_file)))[0]
    teacher = build_any_teacher(config["teacher"], dims=dims, lengths=lengths, n_out=7)
    save_teacher_blob({"state_dict": teacher.state_dict(), "arch": "mult", "config": dict(config["teacher"]),
                       "dims": dims, "lengths": lengths, "n_out": 7, "task": "classification",
                       "fingerprint": fingerprint, "val_metrics": {"val_acc7": float("nan")}},
                      teacher_path(config, fingerprint))


def measure(data_path: Path, trials: int, seconds: float, work: Path) -> dict:
    space = json.loads(json.dumps(SPACE))
    space["data"] = {"path": str(data_path)}
    space["search"]["num_samples"] = trials
    space["resources"] = {"cpus_per_trial": 2 / trials if trials > 1 else 1, "gpus_per_trial": 0}
    path = work / f"space-{trials}.yaml"
    path.write_text(yaml.safe_dump(space))
    seed_teacher(path, data_path, work / "cache")
    env = {**os.environ, "KDSEARCH_CACHE": str(work / "cache")}
    cmd = [sys.executable, "-m", "kdsearch", "run", str(path), "--name", f"mem{trials}", "--cpus", "2",
           "--results-dir", str(work / "results")]
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(work / f"driver-{trials}.log", "w"),
                              start_new_session=True)
    peaks: dict[int, dict[str, float]] = {}
    driver_peak = {"rss": 0.0, "pss": 0.0, "uss": 0.0}
    started = None
    try:
        while driver.poll() is None:
            time.sleep(1.0)
            driver_now = smaps_mib(driver.pid) or {}
            for key, value in driver_now.items():
                driver_peak[key] = max(driver_peak[key], value)
                driver_peak[f"{key}_during_training"] = value  # the last sample: steady state
            for pid in trial_workers(driver.pid):
                now = smaps_mib(pid)
                if now is None:
                    continue
                peak = peaks.setdefault(pid, {"rss": 0.0, "pss": 0.0, "uss": 0.0})
                for key, value in now.items():
                    peak[key] = max(peak[key], value)
            if started is None and len(peaks) >= trials:
                started = time.time()
            if started is not None and time.time() - started > seconds:
                break
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
    if len(peaks) < trials:
        raise SystemExit(f"only {len(peaks)} of {trials} trial workers seen: see {work}/driver-{trials}.log")
    return {"trials": trials, "workers": list(peaks.values()), "driver": driver_peak, "sampled_s": seconds}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="mosei", help="synthetic preset to generate (default: mosei)")
    ap.add_argument("--data", help="an existing dataset file instead of generating the preset")
    ap.add_argument("--trials", type=int, nargs="+", default=[1, 4], help="concurrent trials (default: 1 4)")
    ap.add_argument("--seconds", type=float, default=60, help="seconds to sample once all workers run")
    ap.add_argument("--out", help="write the figures as JSON here")
    args = ap.parse_args(argv)

    from kdsearch.data.source import dataset_path

    work = Path(tempfile.mkdtemp(prefix="kdsearch-workermem-"))
    data = Path(args.data) if args.data else dataset_path({"synthetic": args.preset, "seed": 0})
    size_gib = os.path.getsize(data) / 2**30
    print(f"dataset {data} ({size_gib:.2f} GiB on disk); work folder {work}")
    rows = []
    for n in args.trials:
        rows.append(measure(data, n, args.seconds, work))
        print(json.dumps(rows[-1]), flush=True)
    print(f"\n| concurrent trials | per-worker RSS MiB | per-worker PSS MiB | per-worker USS (private) MiB | driver USS / RSS MiB |")
    print("|---|---|---|---|---|")
    for row in rows:
        fmt = lambda key: " / ".join(f"{w[key]:.0f}" for w in row["workers"])  # noqa: E731
        drv = row["driver"]
        print(f"| {row['trials']} | {fmt('rss')} | {fmt('pss')} | {fmt('uss')} | peak {drv['uss']:.0f} / "
              f"{drv['rss']:.0f}, training {drv.get('uss_during_training', 0):.0f} / {drv.get('rss_during_training', 0):.0f} |")
    if args.out:
        Path(args.out).write_text(json.dumps({"dataset": str(data), "dataset_gib": size_gib, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
