"""Whether a search caches its teacher's targets: `distill.teacher_cache: auto | on | off` (no Ray).

The cache goes into Ray's object store beside the dataset, so it must fit the store's budget:
the memory available, less what the dataset itself needs there (the rule of
`kdsearch.search.object_store`). Its size is known from shapes alone (`per_sample_shapes`, on
the meta device), so validation decides before anything runs: `auto` caches when it fits and
otherwise runs the teacher online in every trial, saying why and how big in one line; `on`
refuses to start with that line; `off` always runs the teacher online (the generic way).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from kdsearch.errors import SpaceError

MODES = ("auto", "on", "off")
ENV_BUDGET = "KDSEARCH_TEACHER_CACHE_BUDGET"
# The object store's sizing rule (kdsearch.search.object_store reads these): a payload is asked
# for with 25% headroom plus slack, and never more than 80% of the memory available.
HEADROOM = 1.25
SLACK_BYTES = 256 * 2**20
MOST_OF_AVAILABLE = 0.8


def cache_mode(config: dict) -> str:
    """The config's `distill.teacher_cache` (YAML reads a bare on/off as true/false)."""
    value = config.get("distill", {}).get("teacher_cache", "auto")
    if value is True:
        return "on"
    if value is False:
        return "off"
    if value not in MODES:
        raise SpaceError(f"must be one of {', '.join(MODES)}, got {value!r}", field="distill.teacher_cache")
    return value


def cache_mode_dtype(config: dict) -> str:
    return str(config.get("distill", {}).get("teacher_cache_dtype", "float32"))


def available_memory_bytes() -> int:
    """Memory available now (MemAvailable), capped by a container's limit where one is set."""
    from kdsearch.spec.model_memory import machine_memory_bytes

    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return min(int(line.split()[1]) * 1024, machine_memory_bytes())
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def budget_bytes(dataset_bytes: int, available: int | None = None) -> tuple[int, str]:
    """(bytes the targets may take, what that budget is), for a dataset of `dataset_bytes`."""
    from kdsearch.spec.model_memory import human_bytes, parse_bytes

    cap = os.environ.get(ENV_BUDGET, "").strip()
    if cap:
        try:
            return parse_bytes(cap), f"{ENV_BUDGET} allows {cap}"
        except Exception:  # noqa: BLE001 - parse_bytes names its own variable; say ours
            raise SpaceError(f"must be a size such as 2GiB or 500MB, got {cap!r}", field=ENV_BUDGET) from None
    available = available_memory_bytes() if available is None else available
    room = max(0, int(MOST_OF_AVAILABLE * available / HEADROOM) - SLACK_BYTES - int(dataset_bytes))
    return room, (f"the object store can hold {human_bytes(room)} beside the data ({human_bytes(available)} of "
                  f"memory available)")


@dataclass
class CachePlan:
    """The decision for one search (or one `kdsearch train`): cache or not, and why."""

    use: bool
    nbytes: int  # what the targets of every teacher/loss the space can build take together
    line: str  # one line for the user


def targets_size(cfg: dict) -> tuple[str, int]:
    """(what is stored, in words a dict key can hold; its bytes over the training split) for
    `cfg`, from shapes only (meta device). Configs that store the same targets share one entry."""
    import torch

    from kdsearch.data.source import train_size
    from kdsearch.train.experiment import build_models, data_shapes, make_kd_loss
    from kdsearch.train.teacher_targets import cache_bytes, per_sample_shapes, storage_dtype, wanted

    dims, lengths = data_shapes(cfg)
    kd = make_kd_loss(cfg)
    with torch.device("meta"):
        teacher, _ = build_models(cfg, dims, lengths)
        teacher.to("meta")  # buffers some models build on the CPU on purpose
        shapes = per_sample_shapes(teacher, kd, dims, lengths)
    maps, post = wanted(kd)
    key = json.dumps([cfg["data"], cfg["task"], cfg["teacher"], cfg["teacher_train"], sorted(maps), sorted(post),
                      storage_dtype(cfg)], sort_keys=True, default=str)
    return key, cache_bytes(shapes, train_size(cfg["data"]), storage_dtype(cfg))


def plan_cache(configs: list[dict], dataset_bytes: int, *, available: int | None = None) -> CachePlan:
    """Decide for the configs a search can run that read a teacher (one mode, one dtype).

    Raises:
        SpaceError: `teacher_cache: on` and the targets do not fit (field `distill.teacher_cache`).
    """
    from kdsearch.spec.model_memory import human_bytes

    if not configs:
        return CachePlan(False, 0, "teacher cache: no trial reads a teacher")
    mode = cache_mode(configs[0])
    if mode == "off":
        return CachePlan(False, 0, "teacher cache off (distill.teacher_cache: off): every trial runs the teacher")
    sizes = dict(targets_size(c) for c in configs)
    total = sum(sizes.values())
    budget, what = budget_bytes(dataset_bytes, available)
    if total <= budget:
        return CachePlan(True, total, f"teacher targets cached once ({human_bytes(total)} for {len(sizes)} "
                                      f"teacher/loss target set(s)); trials read them instead of running the teacher")
    line = f"the teacher's targets would take {human_bytes(total)} but {what}"
    if mode == "on":
        half = (", or float16/bfloat16 distill.teacher_cache_dtype (half the size)"
                if total // 2 <= budget and cache_mode_dtype(configs[0]) == "float32" else "")
        raise SpaceError(f"{line}; set distill.teacher_cache: auto (the teacher then runs in every trial){half}",
                         field="distill.teacher_cache")
    return CachePlan(False, total, f"teacher cache off: {line}; the teacher runs online in every trial")


SETTINGS = ("teacher_cache", "teacher_cache_dtype")


def teacher_configs(space) -> list[dict]:
    """Each structure the space can build that reads a teacher (categorical combinations, rows)."""
    from kdsearch.spec.combos import categorical_configs
    from kdsearch.spec.kinds import kind_of

    return [c for c in categorical_configs(space) if kind_of(c).needs_teacher(c, searched=space.params)]


def check_settings(space) -> None:
    """The two settings hold allowed values and are not searched (they change how, not what)."""
    from kdsearch.train.teacher_targets import STORAGE_DTYPES

    for key in SETTINGS:
        if f"distill.{key}" in space.params:
            raise SpaceError("says how trials get the teacher's targets, not what they train: it cannot be "
                             "searched", file=space.file, field=f"params.distill.{key}")
    try:
        cache_mode(space.config)
    except SpaceError as exc:
        raise SpaceError(exc.problem, file=space.file, field=exc.field) from None
    dtype = space.config["distill"].get("teacher_cache_dtype", "float32")
    if dtype not in STORAGE_DTYPES:
        raise SpaceError(f"must be one of {', '.join(STORAGE_DTYPES)}, got {dtype!r}", file=space.file,
                         field="distill.teacher_cache_dtype")


def plan_for_space(space, dataset_bytes: int | None = None, *, available: int | None = None) -> CachePlan:
    """The cache decision of a search over `space` (validation and the driver both ask this)."""
    from kdsearch.data.source import search_data_bytes

    configs = teacher_configs(space)
    if dataset_bytes is None:
        dataset_bytes = search_data_bytes(space.config["data"])
    try:
        return plan_cache(configs, dataset_bytes, available=available)
    except SpaceError as exc:
        raise SpaceError(exc.problem, file=space.file, field=exc.field) from None


def in_process_targets(exp: dict, dataset, teacher_blob: dict, *, device: str = "cpu", console=None):
    """For `kdsearch train` and `replay` (no Ray): the targets of `exp`'s teacher, computed (or read
    from the disk cache) in this process when the setting and the memory allow, else None."""
    from kdsearch.spec.kinds import kind_of
    from kdsearch.train.teacher_targets import get_targets

    if "distill" not in exp or not kind_of(exp).needs_teacher(exp) or float(exp["loss"]["beta"]) == 0.0:
        return None
    plan = plan_cache([exp], sum(a.nbytes for a in dataset.to_arrays().values()))
    if console is not None:
        console.print(plan.line, highlight=False)
    if not plan.use:
        return None
    return get_targets(exp, dataset.fingerprint, teacher_blob, dataset.to_arrays(), device=device, console=console)[0]
