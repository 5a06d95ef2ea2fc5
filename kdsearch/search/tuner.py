"""Wire a checked space into a Ray Tune `Tuner`: ASHA, honest Optuna TPE, callbacks.

The Optuna study lives in a journal file under results/<name>/, so `optuna-dashboard
results/<name>/optuna.journal` shows it live and it survives the driver.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from kdsearch.results.objective import objective_key
from kdsearch.search.resources import ResourcePlan
from kdsearch.spec.space import Space

TUNE_DIR = "tune"
JOURNAL = "optuna.journal"


def rungs(space: Space) -> list[int]:
    """The epochs at which ASHA compares trials: grace_period * rf**k below max_t."""
    sched = space.search["scheduler"]
    if sched["name"] != "asha":
        return []
    max_t, grace, rf = space.config["train"]["epochs"], sched.get("grace_period", 1), sched.get("reduction_factor", 2)
    out, t = [], float(grace)
    while t < max_t:
        out.append(int(t))
        t *= rf
    return out


def build_scheduler(space: Space):
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    sched = space.search["scheduler"]
    if sched["name"] == "fifo":
        return FIFOScheduler()
    return ASHAScheduler(time_attr="training_iteration", max_t=int(space.config["train"]["epochs"]),
                         grace_period=int(sched.get("grace_period", 1)),
                         reduction_factor=sched.get("reduction_factor", 2), brackets=int(sched.get("brackets", 1)))


def build_searcher(space: Space, name: str, folder: Path, warm: list | None = None):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from kdsearch.search.optuna_search import PruningAwareOptunaSearch
    from kdsearch.spec.params import define_by_run

    sampler_cfg = space.search["sampler"]
    seed = sampler_cfg.get("seed", 0)
    if sampler_cfg["name"] == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    elif sampler_cfg["name"] == "grid":
        # Tries each combination once (categorical/int/stepped params), e.g. paper 000's Table 1.
        # Optuna marks it experimental; the warning would only tell users about Optuna's API.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.BruteForceSampler(seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=int(sampler_cfg.get("n_startup_trials", 4)))
    constants = {p: _get(space.config, p) for s in space.params.values() for p in s.when if p not in space.params}
    storage = JournalStorage(JournalFileBackend(str(folder / JOURNAL)))
    # metric/mode go to the searcher itself: OptunaSearch ignores TuneConfig's once it has a space.
    # With extra objectives Optuna gets them all; ASHA (TuneConfig) keeps the first.
    objectives = space.search["objectives"]
    # Optuna reads the `objective/...` columns: the chosen epoch's values (search.objective_epoch).
    names = [objective_key(n) for n in objective_names(space)]
    metric = names if objectives else names[0]
    mode = [space.search["mode"], *(o["mode"] for o in objectives)] if objectives else space.search["mode"]
    from kdsearch.spec.rows import RowsDefineByRun

    space_fn = (RowsDefineByRun(space.params, constants, space.rows) if space.rows
                else define_by_run(space.params, constants))
    if warm:
        # OptunaSearch loads an existing study of this name (load_if_exists): create it first with
        # the old trials, so TPE's first proposals already know them (--warm-start).
        study = optuna.create_study(storage=storage, study_name=name, load_if_exists=True,
                                    directions=[f"{m}imize" for m in (mode if isinstance(mode, list) else [mode])])
        if not study.trials:
            study.add_trials(warm)
    return PruningAwareOptunaSearch(space=space_fn, sampler=sampler,
                                    metric=metric, mode=mode,
                                    storage=storage, study_name=name, max_t=int(space.config["train"]["epochs"]))


def objective_names(space: Space) -> list[str]:
    """The search metric, then each extra objective's metric."""
    return [space.search["metric"], *(o["metric"] for o in space.search["objectives"])]


def objective_rule(space: Space) -> dict:
    """What a trial needs to report the `objective/...` columns (kdsearch.results.objective)."""
    return {"metric": space.search["metric"], "mode": space.search["mode"],
            "rule": space.search.get("objective_epoch", "best"), "names": tuple(objective_names(space))}


def _get(cfg: dict, path: str):
    from kdsearch.config import get_path

    return get_path(cfg, path)


def build_trainable(space: Space, dataset, teachers: dict, plan: ResourcePlan, data_ref=None, runs=None,
                    targets: dict | None = None, search: str = "search"):
    import ray
    from ray import tune

    from kdsearch.search.trial import grid_trial, student_trial

    # Each teacher goes into the object store once, as its own object: a trial fetches only the
    # one for its config. with_parameters puts the data once too; trials read those numpy arrays
    # zero-copy instead of re-reading files.
    refs = {key: ray.put(blob) for key, blob in teachers.items()}
    # `data_ref`: the arrays already in the store (`share_dataset`); with_parameters passes an
    # ObjectRef through as it is, so they are not copied a second time.
    data = data_ref if data_ref is not None else dataset.to_arrays()
    # `runs`: a confirm grid, each trial one (configuration label, seed) of these overrides.
    more = {} if runs is None else {"runs": runs}
    # Teacher targets (the teacher cache): one object per teacher and loss, beside the data.
    target_refs = {key: ray.put(arrays) for key, arrays in (targets or {}).items()}
    if plan.packed:  # trials train in packs (kdsearch.search.packs): the hub seats them
        from kdsearch.search.packs import start_hub

        cpus, gpus = plan.pack_resources
        hub = start_hub(search, capacity=plan.students_per_worker, max_packs=plan.workers, cpus=cpus, gpus=gpus,
                        shares_batches=bool(space.resources.get("pack_shares_batches", False)),
                        data_ref=data_ref if data_ref is not None else ray.put(data), teachers=refs,
                        targets=target_refs, fingerprint=dataset.fingerprint)
        more["packs"] = {"hub": hub, "capacity": plan.students_per_worker,
                         "shares_batches": bool(space.resources.get("pack_shares_batches", False))}
    fn = tune.with_parameters(student_trial if runs is None else grid_trial, base=space.config, data=data,
                              teachers=refs, fingerprint=dataset.fingerprint, cpus_per_trial=plan.cpus_per_trial,
                              objective=objective_rule(space), targets=target_refs, **more)
    return tune.with_resources(fn, plan.trial_resources)


def build_callbacks(space: Space, folder: Path, console, searched: list[str] | None = None,
                    trackers: list | None = None) -> list:
    from kdsearch.search.live_leaderboard import LiveLeaderboard
    from kdsearch.search.results_writer import ResultsWriter
    from kdsearch.search.callbacks import TrackerCallback
    from kdsearch.search.forget_finished import ForgetFinishedMetrics

    searched = list(space.params) if searched is None else searched
    metric, mode = space.search["metric"], space.search["mode"]
    epochs = int(space.config["train"]["epochs"])
    rule = space.search.get("objective_epoch", "best")
    return [
        # resume=True even for a fresh search (its folder is new and empty): this callback is
        # pickled into Tune's experiment state, and on `--resume` the restored copy must take
        # back the rows already written rather than start empty.
        ResultsWriter(str(folder), searched=searched, metric=metric, mode=mode, max_epochs=epochs, resume=True,
                      meta_extra={"rungs": rungs(space), "space": space.name,
                                  "objectives": space.search["objectives"]},
                      tune_dir=str(folder / TUNE_DIR), epoch_rule=rule),  # backs up Tune's state (local runs only)
        LiveLeaderboard(searched=searched, metric=metric, mode=mode, max_epochs=epochs,
                        num_samples=int(space.search["num_samples"]), rungs=rungs(space), console=console,
                        objectives=space.search["objectives"], results_dir=str(folder), epoch_rule=rule),
        # --log tensorboard / mlflow (kdsearch.trackers), fed from the same events.
        *([TrackerCallback(trackers, str(folder), folder.name, searched=searched, metric=metric, mode=mode,
                           max_epochs=epochs, epoch_rule=rule)] if trackers else []),
        # Last: the callbacks above see a finished trial's full statistics first.
        ForgetFinishedMetrics([objective_key(n) for n in objective_names(space)]),
    ]


def pack_leaver(plan: ResourcePlan, search: str) -> list:
    """With packing, the callback that takes a stopped trial out of its pack."""
    if not plan.packed:
        return []
    from kdsearch.search.packs import PackLeaver

    return [PackLeaver(search)]


def tune_location(folder: Path, name: str, storage: str | None) -> tuple[str, str]:
    """(storage_path, experiment name) of Tune's own experiment folder (checkpoints, state).

    Locally it is results/<name>/tune/. With --storage (an s3:// URI or a shared NFS path,
    which multi-node Ray needs: nothing syncs trial folders to the head node) it is
    <storage>/<name>/, while the parquet files and the leaderboard stay in results/<name>/.
    """
    if storage:
        return (storage.rstrip("/") if "://" in storage else str(Path(storage).resolve())), name
    return str(folder.resolve()), TUNE_DIR


def build_tuner(space: Space, name: str, folder: Path, dataset, data_ref, teachers: dict, plan: ResourcePlan, opts,
                console, warm: list | None = None, targets: dict | None = None):
    from ray import tune

    trainable = build_trainable(space, dataset, teachers, plan, data_ref, targets=targets, search=name)
    storage, exp_name = tune_location(folder, name, opts.storage)
    # A search stopped before its first trial (e.g. while the teacher trained) left no Tune
    # state: `--resume` then starts it, under the name and folder it already has.
    if opts.resume and tune.Tuner.can_restore(f"{storage}/{exp_name}"):
        return tune.Tuner.restore(f"{storage}/{exp_name}", trainable=trainable, resume_unfinished=True,
                                  resume_errored=True)
    metric, mode = objective_key(space.search["metric"]), space.search["mode"]
    # Checkpoints kept: the best epoch's by the raw metric (evaluate and export restore it), or
    # under objective_epoch: last simply the latest ones.
    by_best = space.search.get("objective_epoch", "best") == "best"
    run_config = tune.RunConfig(
        name=exp_name, storage_path=storage, verbose=0,
        callbacks=build_callbacks(space, folder, console, trackers=getattr(opts, "trackers", None)) + pack_leaver(
            plan, name),
        failure_config=tune.FailureConfig(max_failures=int(space.search["max_failures"])),
        checkpoint_config=tune.CheckpointConfig(
            num_to_keep=2, checkpoint_score_attribute=space.search["metric"] if by_best else None,
            checkpoint_score_order=mode),
    )
    tune_config = tune.TuneConfig(
        metric=metric, mode=mode, search_alg=build_searcher(space, name, folder, warm), scheduler=build_scheduler(space),
        num_samples=int(space.search["num_samples"]), max_concurrent_trials=plan.max_concurrent, reuse_actors=True,
    )
    return tune.Tuner(trainable, tune_config=tune_config, run_config=run_config)


def build_grid_tuner(space: Space, runs: dict[str, dict], seeds, folder: Path, dataset, data_ref, teachers: dict,
                     plan: ResourcePlan, console, resume: bool):
    """One Tune run over every (configuration, seed) of `runs` x `seeds`, FIFO (no early
    stopping: each run trains its full epochs), in `folder` like a search (trials.parquet,
    tune/ checkpoints), so an interrupted grid resumes where it stopped."""
    from ray import tune

    trainable = build_trainable(space, dataset, teachers, plan, data_ref, runs=runs, search=folder.name)
    storage, exp_name = tune_location(folder, folder.name, None)
    if resume:
        return tune.Tuner.restore(f"{storage}/{exp_name}", trainable=trainable, resume_unfinished=True,
                                  resume_errored=True)
    metric = space.search["metric"]
    run_config = tune.RunConfig(
        name=exp_name, storage_path=storage, verbose=0,
        callbacks=build_callbacks(space, folder, console, searched=["configuration", "train.seed"]) + pack_leaver(
            plan, folder.name),
        failure_config=tune.FailureConfig(max_failures=int(space.search["max_failures"])),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=2, checkpoint_score_attribute=metric,
                                                checkpoint_score_order=space.search["mode"]))
    tune_config = tune.TuneConfig(metric=objective_key(metric), mode=space.search["mode"], num_samples=1,
                                  max_concurrent_trials=plan.max_concurrent, reuse_actors=True)
    grid = {"configuration": tune.grid_search(list(runs)), "train.seed": tune.grid_search([int(s) for s in seeds])}
    return tune.Tuner(trainable, param_space=grid, tune_config=tune_config, run_config=run_config)
