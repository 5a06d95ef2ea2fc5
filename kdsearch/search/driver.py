"""`kdsearch run`: from a checked space to a finished Ray Tune search with results on disk.

Order matters and is chosen so mistakes cost seconds: the space is checked, the results
directory claimed and the data validated before Ray starts; GPUs are counted before any trial is
queued (asking for more than exist is an error, never a silent wait); the teacher is trained or
taken from the cache once; then data and teacher go into the object store once each.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from kdsearch.atomic import atomic_write_text
from kdsearch.errors import UserError
from kdsearch.results.store import read_space_record
from kdsearch.interrupts import Interrupted, guarded
from kdsearch.results.folders import FolderClaim, latest_search_of, running_driver
from kdsearch.search.recovery import check_disk, disk_problem, recover_for_resume
from kdsearch.search.ray_session import quiet_ray_env, start_ray, stop_tune
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
    warm_start: str | None = None  # an old results folder whose finished trials seed the study
    log: list[str] | None = None  # --log tensorboard | mlflow[=URI] (kdsearch.trackers)
    trackers: list | None = None  # `log`, checked (set by run_search)


@dataclass
class SearchOutcome:
    name: str
    results_dir: Path
    wall_s: float
    teachers_reused: int
    teacher_metrics: dict  # "cache key (teacher kind)" -> validation metrics


def results_name(space: Space, opts: RunOptions) -> tuple[str, Path]:
    """The results name and folder, checked but not created: refuse names that escape results/."""
    if opts.resume and not opts.name:  # the most recent search of this space
        opts.name = latest_search_of(opts.results_root, space.name)
    name = opts.name or f"{space.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if not NAME_RE.match(name) or name in (".", ".."):
        raise UserError("a results name is letters, digits, '.', '_' or '-' (no path separators)",
                        field="--name", file=name)
    folder = Path(opts.results_root) / name
    if opts.resume and not (folder / "space.yaml").is_file():
        raise UserError("nothing to resume here (no space.yaml: not a kdsearch search)", file=str(folder),
                        field="--resume")
    running = running_driver(folder) if folder.is_dir() else None
    if running:
        raise UserError(f"this search is still running ({running}): two drivers cannot share its folder; wait "
                        "for it, stop it, or choose another --name", file=str(folder), field="--name")
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
    """Runs the search; a SIGINT/SIGTERM ends it with `Interrupted` (its context names the search,
    its folder and whether `--resume` can continue it), never with an outcome."""
    with guarded() as guard:
        try:
            outcome = _run_search(space, opts, console, guard)
            guard.raise_if_received()  # a signal while Tune was winding down
        except Interrupted as exc:
            folder = Path(opts.results_root) / opts.name if opts.name else None
            exc.context.update(name=opts.name, folder=folder,
                               resumable=bool(folder and (folder / "space.yaml").is_file()))
            raise
    return outcome


def _run_search(space: Space, opts: RunOptions, console, guard) -> SearchOutcome:
    quiet_ray_env(own_signals=guard.active)
    from kdsearch.data.source import load_for_search
    from kdsearch.search.object_store import share_dataset, unshare_dataset
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
    opts.name, folder = results_name(space, opts)  # one name from here on (a timestamp would move)
    console.print(f"[bold]kdsearch[/] search [cyan]{opts.name}[/] · space {space.file}{_bundled(space.file)} · "
                  f"results in {folder.resolve()}/", soft_wrap=True)  # paths whole, never wrapped
    from kdsearch.trackers import parse_log

    opts.trackers = parse_log(opts.log)  # a tracker that is not installed: refused before anything starts
    warm = None
    if opts.warm_start and not opts.resume:  # a misfit refuses the run before anything starts
        from kdsearch.spec.warm_start import warm_trials

        warm = warm_trials(opts.warm_start, space)
    # A search never reads the test split (kdsearch evaluate does, after it): not loaded here.
    dataset = load_for_search(space.config["data"], console=console, splits=("train", "valid"))
    data_bytes = sum(a.nbytes for a in dataset.to_arrays().values())
    # Teacher targets are sized from shapes: decided (and budgeted in the store) before Ray starts.
    cache = plan_for_space(space, data_bytes) if space.config.get("distill") else None

    import ray

    start_ray(plan, opts, payload_bytes=data_bytes + (cache.nbytes if cache and cache.use else 0))
    guard.install()  # ray.init replaced our SIGTERM handler with a bare exit
    claim = None
    try:
        if plan is None:
            plan = plan_resources(space, opts, nodes=[n["Resources"] for n in ray.nodes() if n.get("Alive")])
        name, folder = results_dir_for(space, opts)
        claim = FolderClaim(folder)  # one driver per folder, until this one ends
        fitting = {"started": False}  # set once Tune runs: from then on the folder is a search's
        try:
            if not opts.resume:
                record = {**_space_record(space), "storage": opts.storage, "warm_start": opts.warm_start}
                atomic_write_text(folder / "space.yaml", yaml.safe_dump(record, sort_keys=False))
                if warm:
                    _keep_imported(folder, opts.warm_start, len(warm), console)
            elif opts.storage is None:  # resume where the search kept its checkpoints
                opts.storage = read_space_record(folder).get("storage")
            console.print(plan.describe())
            data_ref = share_dataset(dataset)  # from here on the driver holds the store's copy only
            device = "cuda" if plan.gpus > 0 and _local_cuda() else "cpu"
            teachers, reused = teachers_for_space(space, dataset, console=console, device=device)
            targets = None
            if cache is not None and teachers:
                console.print(cache.line, highlight=False)
                if cache.use:
                    targets = targets_for_space(space, dataset, teachers, console=console, device=device)
            _fit(space, name, folder, dataset, data_ref, teachers, plan, opts, console, guard, fitting, warm, targets)
        except BaseException:
            # A run that fails before its first trial (teacher training, the searcher's setup)
            # leaves no half-made folder that would block the name (`--name` refuses a taken one);
            # an interrupted one keeps it, so its `--resume` line has a search to continue.
            if not opts.resume and not fitting["started"] and guard.received is None:
                claim.release()
                claim = None
                shutil.rmtree(folder, ignore_errors=True)
            raise
    finally:
        if claim is not None:
            claim.release()
        unshare_dataset(dataset)
        if ray.is_initialized() and not opts.address:
            ray.shutdown()
    return _outcome(name, folder, time.perf_counter() - started, reused, teachers)


def run_grid(space: Space, runs: dict[str, dict], seeds, folder: Path, opts: RunOptions, console,
             resume: bool = False) -> None:
    """Train every (configuration, seed) of `runs` x `seeds` once, as one Ray Tune run whose
    results go to `folder` (`kdsearch confirm`); trials pack on GPUs as a search's do."""
    from kdsearch.config import with_overrides
    from kdsearch.data.source import load_for_search
    from kdsearch.search.object_store import share_dataset, unshare_dataset
    from kdsearch.search.teacher_pool import teachers_for_configs
    from kdsearch.search.tuner import build_grid_tuner

    quiet_ray_env()
    joining = bool(opts.address or os.environ.get("RAY_ADDRESS"))
    plan = None if joining else plan_resources(space, opts)
    dataset = load_for_search(space.config["data"], console=console, splits=("train", "valid"))
    import ray

    start_ray(plan, opts, payload_bytes=sum(a.nbytes for a in dataset.to_arrays().values()))
    try:
        if plan is None:
            plan = plan_resources(space, opts, nodes=[n["Resources"] for n in ray.nodes() if n.get("Alive")])
        console.print(plan.describe())
        data_ref = share_dataset(dataset)
        device = "cuda" if plan.gpus > 0 and _local_cuda() else "cpu"
        configs = [with_overrides(space.config, o) for o in runs.values()]
        teachers = teachers_for_configs(configs, dataset, console=console, device=device)
        tuner = build_grid_tuner(space, runs, seeds, folder, dataset, data_ref, teachers, plan, console, resume)
        tuner.fit()
    finally:
        unshare_dataset(dataset)
        if ray.is_initialized() and not opts.address:
            ray.shutdown()


def _keep_imported(folder: Path, old: str, n: int, console) -> None:
    from kdsearch.results.store import WARM_FILE, write_parquet_atomic
    from kdsearch.spec.warm_start import imported_rows

    write_parquet_atomic(imported_rows(old), folder / WARM_FILE)
    console.print(f"Warm start: the study begins with {n} finished trial(s) of {old}")


def _bundled(file: str) -> str:
    """' (bundled with kdsearch)' for a space found among the bundled ones, not in this folder."""
    from kdsearch.spec.space import BUNDLED_DIR, INSTALLED_DIR

    path = Path(file).resolve()
    inside = lambda folder: folder in path.parents  # noqa: E731
    return " (bundled with kdsearch)" if not inside(Path.cwd().resolve()) and (
        inside(BUNDLED_DIR) or inside(INSTALLED_DIR)) else ""


def _local_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _fit(space: Space, name: str, folder: Path, dataset, data_ref, teachers: dict, plan: ResourcePlan, opts,
         console, guard, fitting: dict, warm=None, targets: dict | None = None):
    from kdsearch.search.tuner import build_tuner

    if opts.resume:  # mend what a full disk or a kill may have cut short
        for note in recover_for_resume(folder, tune_local=not opts.storage):
            console.print(f"[yellow]{note}[/]")
    tuner = build_tuner(space, name, folder, dataset, data_ref, teachers, plan, opts, console, warm, targets)
    fitting["started"] = True
    try:
        guard.wind_down = stop_tune
        grid = tuner.fit()
        # Tune may also end normally with the trials that hit the full disk marked errored.
        for error in grid.errors:
            if disk_problem(error, folder) is not None:
                raise error
        return grid
    except Exception as exc:
        problem = disk_problem(exc, folder)
        if problem is None:
            raise
        # Trials cannot checkpoint, Optuna cannot record them, Tune reads back truncated files:
        # stop with one line that says what is kept and how to go on.
        raise UserError(f"a disk the search writes to failed mid-search ({problem}); trials.parquet keeps "
                        f"every trial recorded before it; free space, then continue with --name {name} --resume",
                        file=str(folder)) from None
    finally:
        guard.wind_down = None


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
