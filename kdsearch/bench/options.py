"""The options of `kdsearch bench` and the repetition counts they imply."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from kdsearch.errors import UserError
from kdsearch.models import STUDENT_CONFIGS

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
        configs: student configurations to time (None: all five; quick mode: 5 only).
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
    configs: tuple[int, ...] | None = None
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
            out.configs = self.configs or (5,)
            out.compare, out.skip_search = "naive", True
            out.threads = 1 if self.threads is None else self.threads
        out.configs = tuple(out.configs or STUDENT_CONFIGS)
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


def parse_configs(text: str | None) -> tuple[int, ...] | None:
    """"1,5" -> (1, 5); None stays None. Unknown configurations are a user error naming --configs."""
    if text is None:
        return None
    try:
        configs = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UserError(f"expected comma-separated numbers, got {text!r}", field="--configs") from None
    unknown = [c for c in configs if c not in STUDENT_CONFIGS]
    if not configs or unknown:
        raise UserError(f"choose among {', '.join(map(str, STUDENT_CONFIGS))}, got {text!r}", field="--configs")
    return configs
