"""What `kdsearch bench` measures, and in which order.

One process measures everything, so a ratio such as "optimised vs naive teacher step" compares
two implementations under the same load: both are timed in alternation (`timing.interleaved`)
with the same weights and the same batch.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import time

import torch

from kdsearch.bench import steps
from kdsearch.bench.naive_mult import NaiveMulT
from kdsearch.bench.options import CPU_BATCH_SWEEP, GPU_BATCH_SWEEP, INFER_BATCHES, BenchOptions, repeats_for
from kdsearch.bench.timing import Timing, cpu_ratio, interleaved, ratio, time_fn
from kdsearch.models import DISTILLED_PAIRS, TEACHER_BRANCH_FOR_CONFIG, count_parameters


def peak_memory_mb(fn, device: torch.device) -> float | None:
    """Peak GPU memory allocated (MB) while `fn()` runs once; None on a CPU.

    On a CPU there is no per-call figure worth reporting (the process's RSS only grows); the
    process's peak RSS is in the run's meta instead.
    """
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


def _step_entry(timing: Timing, batch: int, n_train: int) -> dict:
    return {"batch": batch, **timing.as_dict(), "samples_per_s": batch / timing.median_ms * 1000.0,
            "epoch_s_est": math.ceil(n_train / batch) * timing.median_ms / 1000.0}


class Bench:
    """Runs the measurements of one `kdsearch bench` invocation and collects a JSON-ready dict."""

    def __init__(self, opts: BenchOptions, progress=lambda message: None):
        self.opts = opts.resolved()
        self.device = torch.device(self.opts.device)
        self.shapes = steps.shapes_of(self.opts.shapes)
        self.reps = self.opts.repeats or repeats_for(self.opts)
        self.progress = progress

    def _split(self, batch: int, seed: int = 0):
        return steps.random_split(self.shapes, batch, self.device, seed)

    def _time(self, fn) -> Timing:
        r = self.reps
        return time_fn(fn, self.device, warmup=r.warmup, reps=r.train_reps, max_seconds=r.max_seconds)

    def _sweep(self, make_step, done: dict[int, Timing]) -> list[dict]:
        """Training step at each sweep batch size (beyond those in `done`), stopping at OOM."""
        sweep = () if self.opts.quick else (GPU_BATCH_SWEEP if self.device.type == "cuda" else CPU_BATCH_SWEEP)
        timings = dict(done)
        for batch in sweep:
            if batch in timings:
                continue
            try:
                timings[batch] = self._time(make_step(self._split(batch, seed=batch)))
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                break
        return [_step_entry(t, b, self.shapes.n_train) for b, t in sorted(timings.items())]

    def _inference(self, model) -> dict:
        out = {}
        for batch in INFER_BATCHES:
            fn = steps.inference_fn(model, self._split(batch, seed=1000 + batch))
            timing = time_fn(fn, self.device, warmup=self.reps.warmup, reps=self.reps.infer_reps,
                             max_seconds=self.reps.max_seconds)
            out[f"infer_b{batch}"] = timing.as_dict()
        return out

    def _model_entry(self, model, train: Timing, make_step, inference: dict | None = None) -> dict:
        """Parameters, the step at the headline batch, the sweep, latency and peak memory of `model`."""
        sweep = self._sweep(make_step, {self.opts.batch: train})
        entry = {"params": count_parameters(model),
                 "train": _step_entry(train, self.opts.batch, self.shapes.n_train),
                 "sweep": sweep, "best": max(sweep, key=lambda row: row["samples_per_s"])}
        entry.update(inference if inference is not None else self._inference(model))
        entry["peak_mem_mb"] = peak_memory_mb(make_step(self._split(self.opts.batch)), self.device)
        return entry

    def teacher(self) -> tuple[dict, dict | None]:
        """The complete teacher's entry and, with `compare="naive"`, the naive reference's."""
        self.progress("teacher training step")
        teacher = steps.build_teacher_model(self.shapes, self.device, **self.opts.model_cfg)
        split = self._split(self.opts.batch)

        def make_step(s):
            return steps.teacher_step(teacher, s)

        if self.opts.compare != "naive":
            return self._model_entry(teacher, self._time(make_step(split)), make_step), None
        train, inference, naive_entry = self._versus_naive(teacher, make_step(split), split)
        entry = self._model_entry(teacher, train, make_step, inference)
        naive_entry["same_params"] = naive_entry["params"] == entry["params"]
        return entry, naive_entry

    def _versus_naive(self, teacher, teacher_step, split) -> tuple[Timing, dict, dict]:
        """Teacher and `NaiveMulT` (same weights) timed in alternation: training step and latency.

        Returns:
            (teacher's step timing, teacher's inference entries, the naive entry with the ratios).
        """
        self.progress("teacher vs naive, side by side")
        r = self.reps
        naive = NaiveMulT(dims=self.shapes.dims, lengths=self.shapes.lengths, n_out=steps.get_task(steps.TASK).n_out,
                          **self.opts.model_cfg).to(self.device)
        naive.load_state_dict(teacher.state_dict())  # same weights: same arithmetic, only the style differs
        naive_step = steps.naive_teacher_step(naive, split)
        train = interleaved({"opt": teacher_step, "naive": naive_step}, self.device, warmup=r.warmup,
                            reps=r.train_reps)
        naive_entry = {"params": count_parameters(naive),
                       "train": _step_entry(train["naive"], self.opts.batch, self.shapes.n_train),
                       "speedup_train": ratio(train["naive"], train["opt"]),
                       "speedup_train_cpu_time": cpu_ratio(train["naive"], train["opt"])}
        inference = {}
        for batch in INFER_BATCHES:
            s = self._split(batch, seed=1000 + batch)
            timings = interleaved({"opt": steps.inference_fn(teacher, s), "naive": steps.inference_fn(naive, s)},
                                  self.device, warmup=r.warmup, reps=r.infer_reps)
            inference[f"infer_b{batch}"] = timings["opt"].as_dict()
            naive_entry[f"infer_b{batch}"] = timings["naive"].as_dict()
            naive_entry[f"speedup_infer_b{batch}"] = ratio(timings["naive"], timings["opt"])
        naive_entry["peak_mem_mb"] = peak_memory_mb(naive_step, self.device)
        return train["opt"], inference, naive_entry

    def student(self, config: int) -> dict:
        """Configuration `config`'s EDAM training step (frozen teacher forward included) and inference."""
        self.progress(f"student configuration {config} (EDAM)")
        cfg = self.opts.model_cfg
        objective = steps.student_objective(config, self.shapes, self.device, teacher_cfg=cfg, student_cfg=cfg)

        def make_step(s):
            return steps.train_step_fn(objective, s)

        entry = self._model_entry(objective.student, self._time(make_step(self._split(self.opts.batch))), make_step)
        entry["teacher_branch"] = TEACHER_BRANCH_FOR_CONFIG[config]
        entry["teacher_params"] = count_parameters(objective.teacher)
        entry["pairs"] = dict(DISTILLED_PAIRS[config])
        return entry

    def run(self) -> dict:
        """Every measurement the options ask for, as one JSON-ready dict."""
        started = time.perf_counter()
        previous_threads = torch.get_num_threads()
        if self.opts.threads:
            torch.set_num_threads(self.opts.threads)
        try:
            meta = self._meta()
            teacher, naive = self.teacher()
            result = {"meta": meta, "teacher": teacher,
                      "students": {f"config{c}": self.student(c) for c in self.opts.configs}}
            if naive is not None:
                result["compare"] = {"naive": naive}
            if self.opts.skip_search:
                result["search"] = {"skipped": True}
            else:
                from kdsearch.bench.search_bench import run_search_bench

                self.progress("fixed small search")
                gpus = None if self.device.type == "cuda" else 0
                result["search"] = run_search_bench(num_samples=self.opts.search_trials, gpus=gpus,
                                                    threads=self.opts.threads)
        finally:
            torch.set_num_threads(previous_threads)
        meta["wall_s"] = time.perf_counter() - started
        meta["load_avg_end"] = _load_avg()
        meta["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        return result

    def _meta(self) -> dict:
        o = self.opts
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else _cpu_name()
        return {"schema": 1, "device": o.device, "device_name": name,
                "torch": torch.__version__, "python": platform.python_version(), "cpu_count": os.cpu_count(),
                "threads": torch.get_num_threads(), "shapes": o.shapes, "dims": self.shapes.dims,
                "lengths": self.shapes.lengths, "n_train": self.shapes.n_train, "batch": o.batch, "quick": o.quick,
                "compare": o.compare, "configs": list(o.configs), "model_cfg": dict(o.model_cfg),
                "reps": vars(self.reps), "load_avg_start": _load_avg(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load_avg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def run_bench(opts: BenchOptions, progress=lambda message: None) -> dict:
    """Run `kdsearch bench` with `opts`; returns the JSON-ready results dict."""
    return Bench(opts, progress).run()
