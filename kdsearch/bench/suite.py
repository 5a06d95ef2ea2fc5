"""What `kdsearch bench` measures, in which order, with how many repetitions.

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
from dataclasses import dataclass, field

import torch

from kdsearch.bench import steps
from kdsearch.bench.naive_mult import NaiveMulT
from kdsearch.bench.timing import Timing, interleaved, ratio, time_fn
from kdsearch.errors import UserError
from kdsearch.models import DISTILLED_PAIRS, TEACHER_BRANCH_FOR_CONFIG, count_parameters

INFER_BATCHES = (1, 32)
GPU_BATCH_SWEEP = (24, 64, 128, 256, 512)
CPU_BATCH_SWEEP = (24, 64)


@dataclass
class BenchOptions:
    """Options of `kdsearch bench` (see `kdsearch bench --help`).

    Attributes:
        quick: small shapes, few repetitions, teacher + configuration-5 student + naive
            comparison, no batch sweep, no search: a CI smoke run of the harness itself.
        device: "auto" (CUDA when present), "cpu" or "cuda".
        shapes: "small" or "mosei" preset shapes; None picks mosei on a GPU, small on a CPU.
        batch: the training batch size of the headline figures (MulT's 24).
        compare: "naive" to time `NaiveMulT` side by side with the teacher, or None.
        skip_search: do not run the fixed small search.
        configs: student configurations to time.
        threads: torch intra-op threads; None keeps torch's default (quick mode: 1, so a busy
            CI machine does not oversubscribe its cores).
        search_trials: trials of the fixed search.
        model_cfg: constructor overrides for every model (e.g. tiny sizes in tests).
        repeats: repetition counts instead of the defaults of `repeats_for`.
    """

    quick: bool = False
    device: str = "auto"
    shapes: str | None = None
    batch: int = 24
    compare: str | None = None
    skip_search: bool = False
    configs: tuple[int, ...] = (1, 2, 3, 4, 5)
    threads: int | None = None
    search_trials: int = 4
    model_cfg: dict = field(default_factory=dict)
    repeats: Repeats | None = None

    def resolved(self) -> "BenchOptions":
        """A copy with quick-mode choices applied and the device/shapes decided."""
        out = BenchOptions(**vars(self))
        out.device = resolve_device(self.device)
        if self.quick:
            out.shapes = self.shapes or "small"
            out.configs, out.compare, out.skip_search = (5,), "naive", True
            out.threads = 1 if self.threads is None else self.threads
        if out.shapes is None:
            out.shapes = "mosei" if out.device == "cuda" else "small"
        if out.batch < 1:
            raise UserError(f"must be at least 1, got {out.batch}", field="--batch")
        if out.threads is not None and out.threads < 1:
            raise UserError(f"must be at least 1, got {out.threads}", field="--threads")
        return out


def resolve_device(name: str) -> str:
    """"auto" -> "cuda" when available, else "cpu"; asking for CUDA without one is a user error."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("no CUDA device is visible to torch", field="--device")
    if name not in ("cpu", "cuda"):
        raise UserError(f"unknown device {name!r} (choose auto, cpu or cuda)", field="--device")
    return name


@dataclass(frozen=True)
class Repeats:
    """How many times each kind of measurement runs."""

    warmup: int
    train_reps: int
    infer_reps: int
    max_seconds: float  # per measurement: bounds slow shapes on a CPU


def repeats_for(opts: BenchOptions) -> Repeats:
    if opts.quick:
        return Repeats(warmup=1, train_reps=3, infer_reps=5, max_seconds=5.0)
    if opts.device == "cuda":
        return Repeats(warmup=5, train_reps=30, infer_reps=50, max_seconds=30.0)
    return Repeats(warmup=1, train_reps=5, infer_reps=10, max_seconds=60.0)


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

    def _model_entry(self, model, train: Timing, make_step, infer_model) -> dict:
        sweep = self._sweep(make_step, {self.opts.batch: train})
        best = max(sweep, key=lambda row: row["samples_per_s"])
        entry = {"params": count_parameters(model),
                 "train": _step_entry(train, self.opts.batch, self.shapes.n_train),
                 "sweep": sweep, "best": best}
        entry.update(self._inference(infer_model))
        entry["peak_mem_mb"] = peak_memory_mb(make_step(self._split(self.opts.batch)), self.device)
        return entry

    def teacher(self) -> tuple[dict, dict | None]:
        """The complete teacher's entry and, with `compare="naive"`, the naive reference's."""
        self.progress("teacher training step")
        cfg = self.opts.model_cfg
        teacher = steps.build_teacher_model(self.shapes, self.device, **cfg)
        split = self._split(self.opts.batch)
        make_step = lambda s: steps.teacher_step(teacher, s)  # noqa: E731
        if self.opts.compare != "naive":
            entry = self._model_entry(teacher, self._time(make_step(split)), make_step, teacher)
            return entry, None
        naive = NaiveMulT(dims=self.shapes.dims, lengths=self.shapes.lengths, n_out=steps.get_task(steps.TASK).n_out,
                          **cfg).to(self.device)
        naive.load_state_dict(teacher.state_dict())  # same weights: same arithmetic, only the style differs
        r = self.reps
        self.progress("teacher vs naive, side by side")
        pair = interleaved({"opt": make_step(split), "naive": steps.naive_teacher_step(naive, split)}, self.device,
                           warmup=r.warmup, reps=r.train_reps)
        entry = self._model_entry(teacher, pair["opt"], make_step, teacher)
        infer = {}
        for batch in INFER_BATCHES:
            s = self._split(batch, seed=1000 + batch)
            infer[batch] = interleaved({"opt": steps.inference_fn(teacher, s), "naive": steps.inference_fn(naive, s)},
                                       self.device, warmup=r.warmup, reps=r.infer_reps)
        naive_entry = {"params": count_parameters(naive), "train": _step_entry(pair["naive"], self.opts.batch,
                                                                               self.shapes.n_train)}
        for batch, timings in infer.items():
            naive_entry[f"infer_b{batch}"] = timings["naive"].as_dict()
            naive_entry[f"opt_infer_b{batch}"] = timings["opt"].as_dict()
            naive_entry[f"speedup_infer_b{batch}"] = ratio(timings["naive"], timings["opt"])
        naive_entry["speedup_train"] = ratio(pair["naive"], pair["opt"])
        naive_entry["same_params"] = naive_entry["params"] == entry["params"]
        naive_entry["peak_mem_mb"] = peak_memory_mb(steps.naive_teacher_step(naive, split), self.device)
        return entry, naive_entry

    def student(self, config: int) -> dict:
        """Configuration `config`'s EDAM training step (frozen teacher forward included) and inference."""
        self.progress(f"student configuration {config} (EDAM)")
        cfg = self.opts.model_cfg
        objective = steps.student_objective(config, self.shapes, self.device, teacher_cfg=cfg, student_cfg=cfg)
        make_step = lambda s: steps.train_step_fn(objective, s)  # noqa: E731
        entry = self._model_entry(objective.student, self._time(make_step(self._split(self.opts.batch))), make_step,
                                  objective.student)
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
                result["search"] = run_search_bench(num_samples=self.opts.search_trials, gpus=gpus)
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
