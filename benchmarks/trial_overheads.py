"""What a search trial costs besides training: start-up, per-epoch reporting, the latency probe,
and whether torch.compile would pay for the student. Figures printed side by side, never asserted.

From a results folder (Tune's clocks in epochs.parquet, the driver's in trials.parquet):
  start-up        time_this_iter_s of a trial's first epoch less that epoch's epoch_time_s:
                  building the run (student, teacher targets, data), the latency probe, the first
                  report and its checkpoint
  per epoch       time_this_iter_s less epoch_time_s of every later epoch: the report and its
                  checkpoint (kdsearch/search/trial.py `Reporter.report`)
  driver side     a trial's elapsed_s (driver clock, start to end) less Tune's time_total_s: actor
                  start or reuse, the round trips between epochs, the stop
In this process, no Ray, one thread, on the space's fixed configuration (as `kdsearch train`):
building the run, the latency probe, one checkpoint write (torch.save + copy, as Tune persists
it), one epoch, and eager vs torch.compile'd training steps.

    python benchmarks/trial_overheads.py results/<name>              # both parts
    python benchmarks/trial_overheads.py --run edam --cpus 2         # a search first, then both
    python benchmarks/trial_overheads.py --run edam --packed 2 --no-probes   # the same, packed
    python benchmarks/trial_overheads.py results/<name> --no-probes  # the results part alone
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch


def from_results(folder: str) -> dict:
    """Per-trial costs read from a finished search's parquet files (seconds)."""
    from kdsearch.results.store import read_results

    meta, trials, epochs = read_results(folder)
    epochs = epochs.sort_values(["trial_id", "epoch"])
    extra = epochs["time_this_iter_s"] - epochs["epoch_time_s"]
    first = epochs.groupby("trial_id")["epoch"].transform("min") == epochs["epoch"]
    totals = epochs.groupby("trial_id")["time_total_s"].max()
    elapsed = trials.set_index("trial_id")["elapsed_s"].reindex(totals.index)
    driver = (elapsed - totals).clip(lower=0)
    train_s = float(epochs["epoch_time_s"].sum())
    out = {"folder": str(folder), "trials": int(len(trials)), "epochs": int(len(epochs)),
           "epoch_s_median": float(epochs["epoch_time_s"].median()), "train_s": train_s,
           "startup_s": _stats(extra[first]), "per_epoch_s": _stats(extra[~first]), "driver_s": _stats(driver),
           "trial_s_sum": float(elapsed.sum()), "wall_s": meta.get("wall_s")}
    if "latency_ms" in trials:
        out["latency_ms_median"] = float(trials["latency_ms"].median())
    return out


def _stats(series) -> dict:
    values = [float(v) for v in series.dropna()]
    if not values:
        return {"n": 0, "median": float("nan"), "mean": float("nan"), "sum": 0.0}
    return {"n": len(values), "median": statistics.median(values), "mean": statistics.fmean(values),
            "sum": sum(values)}


def probes(space_arg: str, *, compile_steps: int = 24) -> dict:
    """The same costs timed in this process on the space's fixed configuration (seconds)."""
    from kdsearch.data.source import load_for_search
    from kdsearch.search.trial import STATE_FILE
    from kdsearch.spec.kinds import kind_of
    from kdsearch.spec.space import load_space
    from kdsearch.spec.teacher_cache_plan import in_process_targets
    from kdsearch.train.latency import inference_latency_ms
    from kdsearch.train.teacher_cache import get_teacher

    torch.set_num_threads(1)  # a trial's cpus_per_trial: 1
    space = load_space(space_arg)
    exp = copy.deepcopy(space.config)
    dataset = load_for_search(exp["data"], splits=("train", "valid"))
    arrays, kind, device = dataset.to_arrays(), kind_of(exp), torch.device("cpu")
    blob, _ = get_teacher(exp, dataset, device="cpu")
    targets = in_process_targets(exp, dataset, blob, device="cpu")
    out: dict = {"space": space_arg}
    started = time.perf_counter()
    run = kind.build_run(exp, arrays, blob, device, targets=targets)
    out["build_s"] = time.perf_counter() - started
    started = time.perf_counter()
    out["latency_ms"] = inference_latency_ms(run.model, run.valid)
    out["latency_probe_s"] = time.perf_counter() - started
    trainer = run.trainer
    started = time.perf_counter()
    metrics = {**trainer.train_epoch(run.train, 1), **trainer.evaluate(run.valid, prefix="val_")}
    out["epoch_s"] = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as scratch:
        times, size = [], 0
        for i in range(5):
            started = time.perf_counter()
            with tempfile.TemporaryDirectory(dir=scratch) as folder:  # Reporter.report's write
                torch.save({"trainer": trainer.state(), "epoch": 1, "history": [metrics] * 8},
                           os.path.join(folder, STATE_FILE))
                size = os.path.getsize(os.path.join(folder, STATE_FILE))
                shutil.copytree(folder, os.path.join(scratch, f"checkpoint_{i}"))  # Tune persists a copy
            times.append(time.perf_counter() - started)
        out["checkpoint_s"], out["checkpoint_kib"] = statistics.median(times), size / 1024
    out["compile"] = compile_gain(kind, exp, arrays, blob, device, targets, steps=compile_steps)
    return out


def compile_gain(kind, exp, arrays, blob, device, targets, *, steps: int) -> dict:
    """Eager vs compiled training steps of the student on full batches, timed alternately (wall
    and CPU time) so a load change hits both alike. The compile is cold: inductor's disk cache
    goes to a fresh folder, as on a fresh worker machine. Then a fresh student compiled in the
    same process (a reused worker's next trial), which finds the compiled code already there."""
    cache = os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="kdsearch-inductor-")
    try:
        return _compile_gain(kind, exp, arrays, blob, device, targets, steps=steps)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _compile_gain(kind, exp, arrays, blob, device, targets, *, steps: int) -> dict:
    size = int(exp["train"]["batch_size"])

    def stepper(compiled: bool):
        run = kind.build_run(exp, arrays, blob, device, targets=targets)
        if compiled:
            run.model.compile()  # in place: the student stays a VideoStudent for run_model
        trainer = run.trainer
        batches = [b for b in run.train.batches(size, shuffle=True, generator=trainer.generator)
                   if b["label"].shape[0] == size]

        def step(i):
            started, cpu = time.perf_counter(), time.process_time()
            loss = trainer.objective(batches[i % len(batches)])["loss"]
            trainer.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            trainer.optimizer.step()
            return time.perf_counter() - started, time.process_time() - cpu
        return step

    eager, compiled = stepper(False), stepper(True)
    eager(0)
    try:
        first = compiled(0)[0]
    except Exception as exc:  # no compiler, an unsupported op: the figure says so
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"}
    second = stepper(True)
    second_first = second(0)[0]
    pairs = [(eager(i), compiled(i)) for i in range(1, steps + 1)]
    med = {name: statistics.median(p[k][j] for p in pairs) for name, k, j in
           (("eager_step_s", 0, 0), ("compiled_step_s", 1, 0), ("eager_cpu_s", 0, 1), ("compiled_cpu_s", 1, 1))}
    gain, compile_s = med["eager_step_s"] - med["compiled_step_s"], first - med["compiled_step_s"]
    return {**med, "first_compile_s": compile_s, "second_compile_s": second_first - med["compiled_step_s"],
            "gain_per_step_s": gain, "break_even_steps": compile_s / gain if gain > 0 else float("inf")}


def show(res: dict | None, probe: dict | None, steps_per_epoch: int | None) -> None:
    if res:
        print(f"From {res['folder']}: {res['trials']} trials, {res['epochs']} epochs, median epoch "
              f"{res['epoch_s_median']:.2f} s, training {res['train_s']:.1f} s of {res['trial_s_sum']:.1f} s "
              f"summed trial time")
        for label, key in (("start-up (first report less its epoch)", "startup_s"),
                           ("per-epoch report + checkpoint", "per_epoch_s"),
                           ("driver side (elapsed less Tune's total)", "driver_s")):
            s = res[key]
            print(f"  {label:42s} median {s['median']:.3f} s, mean {s['mean']:.3f} s, n {s['n']}, "
                  f"sum {s['sum']:.1f} s = {100 * s['sum'] / max(res['trial_s_sum'], 1e-9):.1f}% of trial time")
    if probe:
        print(f"In this process ({probe['space']}, 1 thread): build {probe['build_s']:.3f} s, latency probe "
              f"{probe['latency_probe_s']:.3f} s (latency {probe['latency_ms']:.2f} ms), checkpoint write "
              f"{1000 * probe['checkpoint_s']:.1f} ms ({probe['checkpoint_kib']:.0f} KiB), one epoch "
              f"{probe['epoch_s']:.2f} s")
        c = probe["compile"]
        if "error" in c:
            print(f"  torch.compile: failed ({c['error']})")
        else:
            epoch_gain = f", {c['gain_per_step_s'] * steps_per_epoch:.2f} s per epoch" if steps_per_epoch else ""
            print(f"  torch.compile: eager step {1000 * c['eager_step_s']:.1f} ms (CPU {1000 * c['eager_cpu_s']:.1f}), "
                  f"compiled {1000 * c['compiled_step_s']:.1f} ms (CPU {1000 * c['compiled_cpu_s']:.1f}): gain "
                  f"{1000 * c['gain_per_step_s']:.1f} ms/step{epoch_gain}; "
                  f"compiling {c['first_compile_s']:.1f} s first, {c['second_compile_s']:.1f} s for a second student "
                  f"in the same process; break-even after {c['break_even_steps']:.0f} steps")
    print(f"load average {[round(x, 2) for x in os.getloadavg()]}")


DRIVER_STEPS = ("checkpoint", "_on_training_result", "_on_saving_result")


def driver_profile() -> dict:
    """Times Tune's driver work in this process while a search runs (`--run` only): the
    experiment-state snapshot (`TuneController.checkpoint`, called every step), the handling of
    each result (callbacks, searcher, scheduler) and of each checkpoint. Trials report
    synchronously, so a trial waits while the driver handles its result; and the driver's own
    CPU time competes with the trials for the same cores."""
    from ray.tune.execution import tune_controller

    spent: dict = {name: [] for name in DRIVER_STEPS}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name].append(time.perf_counter() - started)
        return wrapper

    for name in DRIVER_STEPS:
        setattr(tune_controller.TuneController, name, timed(name, getattr(tune_controller.TuneController, name)))
    return spent


def show_driver(spent: dict, wall_s: float, cpu_s: float) -> None:
    print(f"Driver ({wall_s:.1f} s wall, {cpu_s:.1f} s CPU of this process = {100 * cpu_s / wall_s:.0f}% of a core):")
    for name in DRIVER_STEPS:
        times = spent[name]
        if times:
            print(f"  {name:22s} {len(times):6d} calls, median {1000 * statistics.median(times):.2f} ms, "
                  f"sum {sum(times):.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="?", help="a finished search's results folder")
    parser.add_argument("--run", metavar="SPACE", help="run SPACE's search first (results in a temporary folder)")
    parser.add_argument("--space", default="edam", help="the space the in-process probes build (default edam)")
    parser.add_argument("--cpus", type=int, default=None, help="with --run: CPUs the search may use")
    parser.add_argument("--num-samples", type=int, default=None, help="with --run: trials")
    parser.add_argument("--packed", type=int, default=None, metavar="K",
                        help="with --run: resources.students_per_worker: K (packed trials, docs/packing.md)")
    parser.add_argument("--no-probes", action="store_true", help="skip the in-process probes")
    args = parser.parse_args(argv)
    folder, scratch = args.results, None
    if args.run:
        from rich.console import Console

        from kdsearch.search.driver import RunOptions, run_search
        from kdsearch.spec.space import load_space

        scratch = tempfile.mkdtemp(prefix="kdsearch-overheads-")
        spent, cpu0 = driver_profile(), time.process_time()
        overrides = {"resources.students_per_worker": args.packed} if args.packed else {}
        outcome = run_search(load_space(args.run, overrides=overrides), RunOptions(
            cpus=args.cpus, gpus=None, num_samples=args.num_samples, name="overheads", results_root=scratch),
            Console(quiet=True))
        show_driver(spent, outcome.wall_s, time.process_time() - cpu0)
        folder = str(Path(scratch) / "overheads")
    try:
        res = from_results(folder) if folder else None
        probe = None if args.no_probes else probes(args.run or args.space)
        steps = None
        if probe:
            from kdsearch.data.source import train_size
            from kdsearch.spec.space import load_space

            cfg = load_space(args.run or args.space).config
            steps = -(-train_size(cfg["data"]) // int(cfg["train"]["batch_size"]))
        show(res, probe, steps)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
