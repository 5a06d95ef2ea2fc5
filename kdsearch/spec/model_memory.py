"""Will the models of a space fit in memory? Answered without allocating them.

Validation builds every model on PyTorch's `meta` device: shapes and parameter counts are real,
storage is never allocated, so `student.d_model: 100000` is sized in milliseconds instead of
asking the allocator for 120 GB. A model whose training state cannot fit the memory of the
device that will train it is refused with the key that made it so big named.

The estimate is a floor: float32 weights, their gradients and Adam's two moments (16 bytes per
trained parameter, 4 per frozen one); activations come on top.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager

import torch
from torch import nn

from kdsearch.errors import SpaceError, UserError, short

ENV_CAP = "KDSEARCH_MAX_MODEL_MEMORY"
BYTES_TRAINED = 16  # weight + gradient + Adam exp_avg + exp_avg_sq, float32 each
BYTES_FROZEN = 4  # the teacher during distillation: weights only
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_ALLOCATION_WORDS = ("can't allocate memory", "not enough memory", "out of memory", "cannot allocate memory")


@contextmanager
def on_meta(*, file: str | None, field: str):
    """Build inside this block to size models without storage; an allocation that still
    happens (a buffer built on CPU on purpose) and fails becomes one UserError on `field`."""
    try:
        with torch.device("meta"):
            yield
    except (MemoryError, torch.OutOfMemoryError) as exc:
        raise SpaceError(f"not enough memory to build the model ({type(exc).__name__})", file=file,
                         field=field) from None
    except RuntimeError as exc:
        if is_allocation_error(exc):
            raise SpaceError(f"not enough memory to build the model: {_first_line(exc)}", file=file,
                             field=field) from None
        raise


def is_allocation_error(exc: BaseException) -> bool:
    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)):
        return True
    return isinstance(exc, RuntimeError) and any(w in str(exc).lower() for w in _ALLOCATION_WORDS)


def refuse_if_too_big(*, need: int, params: int, what: str, gpus_per_trial: float, section: str, cfg: dict,
                      defaults: dict, size_of, searched=()) -> None:
    """Raise SpaceError when `need` bytes exceed what a trial may use.

    The field named is the key of `section` that, set back to its default, shrinks the model
    most (`size_of(section_cfg) -> parameters`, built on meta), as `params.<key>` when searched.
    """
    limit, where = memory_limit(gpus_per_trial)
    if need <= limit:
        return
    key = _culprit(cfg, defaults, size_of)
    path = f"{section}.{key}" if key else section
    hint = "" if os.environ.get(ENV_CAP, "").strip() else f" (set {ENV_CAP} if trials run on other machines)"
    raise SpaceError(f"{what} has {human_count(params)} parameters and needs at least {human_bytes(need)} to "
                     f"train (weights, gradients, Adam state), but {where}{hint}",
                     field=f"params.{path}" if path in searched else path)


def _culprit(cfg: dict, defaults: dict, size_of) -> str | None:
    best, smallest = None, None
    for key, value in cfg.items():
        if key not in defaults or value == defaults[key]:
            continue
        try:
            with torch.device("meta"):
                size = size_of({**cfg, key: defaults[key]})
        except (UserError, ValueError, TypeError, RuntimeError):
            continue  # that key alone cannot go back (e.g. d_model no longer divisible by heads)
        if smallest is None or size < smallest:
            best, smallest = key, size
    return best


def memory_limit(gpus_per_trial: float) -> tuple[int, str]:
    """(bytes, what they are) a trial may use: the cap in $KDSEARCH_MAX_MODEL_MEMORY if set,
    else one visible GPU's memory for GPU trials, else this machine's RAM."""
    cap = os.environ.get(ENV_CAP, "").strip()
    if cap:
        return parse_bytes(cap), f"{ENV_CAP} allows {cap}"
    if gpus_per_trial and torch.cuda.is_available():
        total = min(torch.cuda.get_device_properties(i).total_memory for i in range(torch.cuda.device_count()))
        return int(total), f"a GPU of this machine has {human_bytes(total)}"
    total = machine_memory_bytes()
    return total, f"this machine has {human_bytes(total)} of memory"


def machine_memory_bytes() -> int:
    """This machine's memory, or a container's limit where one is set (cgroup v2, then v1), as
    Ray counts it when it sizes its object store; read here without importing Ray."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = open(limit_file).read().strip()
        except OSError:
            continue
        if text.isdigit():
            return min(total, int(text))
    return total


def parse_bytes(text: str) -> int:
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match and match.group(2).lower()
    if not match or unit not in _UNITS or float(match.group(1)) <= 0:
        raise UserError(f"must be a size such as 24GiB or 500MB, got {short(text)}", field=ENV_CAP)
    return int(float(match.group(1)) * _UNITS[unit])


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def human_count(n: int) -> str:
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if n >= size:
            return f"{n / size:.1f} {word}"
    return f"{n:,}"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
