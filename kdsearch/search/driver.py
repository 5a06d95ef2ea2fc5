"""`kdsearch run`: from a checked space to a finished Ray Tune search with results on disk.

Order matters and is chosen so mistakes cost seconds: the space is checked, the results
directory claimed and the data validated before Ray starts; GPUs are counted before any trial is
queued (asking for more than exist is an error, never a silent wait); the teacher is trained or
taken from the cache once; then data and teacher go into the object store once each.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from kdsearch.errors import UserError
from kdsearch.search.recovery import check_disk, disk_problem, recover_for_resume
from kdsearch.search.resources import ResourcePlan, plan_resources
from kdsearch.spec.space import NAME_RE, Space


@dataclass
class RunOptions:
    gpus: int | None = None
    cpus: int | None = None
    num_samples: int | None = None
    name: str | None = None
    smoke_test: bool = False
    resume: bool = False
    address: str | None = None
    storage: str | None = None
    results_root: str = "results"


@dataclass
class SearchOutcome:
    name: str
    results_dir: Path
    wall_s: float
    teachers_reused: int
    teacher_metrics: dict  # "cache key (teacher kind)" -> validation metrics


def results_name(space: Space, opts: RunOptions) -> tuple[str, Path]:
    """The results name and folder, checked but not created: refuse names that escape results/."""
    name = opts.name or f"{space.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if not NAME_RE.match(name) or name in (".", ".."):
        raise UserError("a results name is letters, digits, '.', '_' or '-' (no path separators)",
                        field="--name", file=name)
    folder = Path(opts.results_root) / name
    if opts.resume and not (folder / "space.yaml").is_file():
        raise UserError("nothing to resume here (no space.yaml: not a kdsearch search)", file=str(folder),
                        field="--resume")
    if not opts.resume and folder.exists():
        raise UserError("already exists: pass --resume to continue that search, or choose another --name",
                        file=str(folder), field="--name")
    check_disk(folder)
    return name, folder


def results_dir_for(space: Space, opts: RunOptions) -> tuple[str, Path]:
    """Claim results/<name>/: a fresh name unless resuming, and writable."""
    name, folder = results_name(space, opts)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"results directory is not writable: {exc.strerror}", file=str(folder)) from None
    return name, folder


def run_search(space: Space, opts: RunOptions, console) -> SearchOutcome:
    _quiet_ray_env()
    from kdsearch.data.source import load_for_search
    from kdsearch.search.shared_data import share_dataset, unshare_dataset
    from kdsearch.search.teacher_pool import targets_for_space, teachers_for_space
    from kdsearch.spec.teacher_cache_plan import plan_for_space

    started = time.perf_counter()
    if opts.smoke_test:
        space = space.smoke()
    if opts.num_samples is not None:
        if opts.num_samples < 1:
            raise UserError(f"must be an integer >= 1, got {opts.num_samples}", field="--num-samples")
        space.search["num_samples"] = int(opts.num_samples)
    # Everything that can refuse the run comes before anything is written: a bad --gpus or a
    # corrupt dataset leaves no results folder behind. Joining a cluster, its nodes decide the
    # plan, so that check waits until Ray is connected (still before the folder is claimed).
    joining = bool(opts.address or os.environ.get("RAY_ADDRESS"))
    plan = None if joining else plan_resources(space, opts)
    results_name(space, opts)
    # A search never reads the test split (kdsearch evaluate does, after it): not loaded here.
    dataset = load_for_search(space.config["data"], console=console, splits=("train", "valid"))
    data_bytes = sum(a.nbytes for a in dataset.to_arrays().values())
    # Teacher targets are sized from shapes: decided (and budgeted in the store) before Ray starts.
    cache = plan_for_space(space, data_bytes) if space.config.get("distill") else None

    import ray

    _start_ray(plan, opts, payload_bytes=data_bytes + (cache.nbytes if cache and cache.use else 0))
    try:
        if plan is None:
            plan = plan_resources(space, opts, nodes=[n["Resources"] for n in ray.nodes() if n.get("Alive")])
        name, folder = results_dir_for(space, opts)
        if not opts.resume:
            record = {**_space_record(space), "storage": opts.storage}
            (folder / "space.yaml").write_text(yaml.safe_dump(record, sort_keys=False))
        elif opts.storage is None:  # resume where the search kept its checkpoints
            opts.storage = (yaml.safe_load((folder / "space.yaml").read_text()) or {}).get("storage")
        console.print(f"[bold]kdsearch[/] search [cyan]{name}[/] · space {space.file} · results in {folder}/")
        console.print(plan.describe())
        data_ref = share_dataset(dataset)  # from here on the driver holds the store's copy only
        device = "cuda" if plan.gpus > 0 and _local_cuda() else "cpu"
        teachers, reused = teachers_for_space(space, dataset, console=console, device=device)
        targets = None
        if cache is not None and teachers:
            console.print(cache.line, highlight=False)
            if cache.use:
                targets = targets_for_space(space, dataset, teachers, console=console, device=device)
        _fit(space, name, folder, dataset, data_ref, teachers, plan, opts, console, targets)
    finally:
        unshare_dataset(dataset)
        if ray.is_initialized() and not opts.address:
            ray.shutdown()
    return _outcome(name, folder, time.perf_counter() - started, reused, teachers)


def _quiet_ray_env() -> None:
    """Our leaderboard is the display: keep Ray's own progress output and noise out of it."""
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # they pin every trial in memory
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0 the old engine prints nothing
    # One small checkpoint per trial-epoch forces experiment-state snapshots; expected, not a problem.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # Snapshot Tune's experiment state at every step (not Tune's adaptive period): after a kill,
    # `--resume` then knows every trial that finished, and none is trained again. A snapshot of
    # a small search's state is a few milliseconds.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "0")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # The parquet files are the record; Tune's warning that its JSON/CSV loggers are off is noise.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    # "Token authentication is enabled" on every local start: the default, and safe; not news.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    # The grid sampler stops its study when every combination is out; Ray warns about how.
    logging.getLogger("ray.tune.search.optuna.optuna_search").setLevel(logging.ERROR)


def _start_ray(plan: ResourcePlan | None, opts: RunOptions, payload_bytes: int = 0) -> None:
    """Join the cluster (--address, or RAY_ADDRESS inside a Ray job; `plan` is None then) or start
    a local Ray sized by `plan`."""
    import ray

    from kdsearch.search.object_store import object_store_bytes

    if ray.is_initialized():
        return
    common = dict(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False,
                  configure_logging=True)
    if opts.address:
        ray.init(address=opts.address, **common)
    else:
        if os.environ.get("RAY_ADDRESS"):  # inside a Ray job: the job's cluster
            ray.init(address=os.environ["RAY_ADDRESS"], **common)
            return
        # The dataset is one object every trial reads: the store must hold it whole.
        store = object_store_bytes(payload_bytes)
        # "local": a new Ray of our own, even when another search (or a test's cluster) already
        # runs on this machine; plain ray.init() would try to join that one.
        ray.init(address="local", num_cpus=plan.cpus, num_gpus=plan.gpus,
                 **({"object_store_memory": store} if store else {}), **common)


def _local_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _fit(space: Space, name: str, folder: Path, dataset, data_ref, teachers: dict, plan: ResourcePlan, opts,
         console, targets: dict | None = None):
    from kdsearch.search.tuner import build_tuner

    if opts.resume:  # mend what a full disk or a kill may have cut short
        for note in recover_for_resume(folder, tune_local=not opts.storage):
            console.print(f"[yellow]{note}[/]")
    tuner = build_tuner(space, name, folder, dataset, data_ref, teachers, plan, opts, console, targets)
    try:
        return tuner.fit()
    except Exception as exc:
        problem = disk_problem(exc, folder)
        if problem is None:
            raise
        # Trials cannot checkpoint, Optuna cannot record them, Tune reads back truncated files:
        # stop with one line that says what is kept and how to go on.
        raise UserError(f"a disk the search writes to failed mid-search ({problem}); trials.parquet keeps "
                        f"every trial recorded before it; free space, then continue with --name {name} --resume",
                        file=str(folder)) from None


def _space_record(space: Space) -> dict:
    return {"name": space.name, "file": space.file, "config": space.config,
            "params": {p: {k: v for k, v in vars(s).items() if v not in (None, (), {}) and k != "path"}
                       for p, s in space.params.items()},
            "search": space.search, "resources": space.resources}


def _outcome(name, folder, wall_s, reused, teachers) -> SearchOutcome:
    metrics = {f"{key} ({_teacher_kind(blob)})": {k: v for k, v in blob["val_metrics"].items() if k.startswith("val_")}
               for key, blob in teachers.items()}
    return SearchOutcome(name=name, results_dir=folder, wall_s=wall_s, teachers_reused=reused,
                         teacher_metrics=metrics)


def _teacher_kind(blob: dict) -> str:
    """'MulT complete', 'MulT audio', 'DMD': which teacher a cache key is, for the summary."""
    from kdsearch.train.teachers import teacher_title

    return teacher_title({"arch": blob.get("arch", "mult"), **blob.get("config", {})})
