"""Wire a checked space into a Ray Tune `Tuner`: ASHA, honest Optuna TPE, callbacks.

The Optuna study lives in a journal file under results/<name>/, so `optuna-dashboard
results/<name>/optuna.journal` shows it live and it survives the driver.
"""

from __future__ import annotations

import warnings
from pathlib import Path

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


def build_searcher(space: Space, name: str, folder: Path):
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
    metric = [space.search["metric"], *(o["metric"] for o in objectives)] if objectives else space.search["metric"]
    mode = [space.search["mode"], *(o["mode"] for o in objectives)] if objectives else space.search["mode"]
    from kdsearch.spec.rows import RowsDefineByRun

    space_fn = (RowsDefineByRun(space.params, constants, space.rows) if space.rows
                else define_by_run(space.params, constants))
    return PruningAwareOptunaSearch(space=space_fn, sampler=sampler,
                                    metric=metric, mode=mode,
                                    storage=storage, study_name=name, max_t=int(space.config["train"]["epochs"]))


def _get(cfg: dict, path: str):
    from kdsearch.config import get_path

    return get_path(cfg, path)


def build_trainable(space: Space, dataset, teachers: dict, plan: ResourcePlan, data_ref=None,
                    targets: dict | None = None):
    import ray
    from ray import tune

    from kdsearch.search.trial import student_trial

    # Each teacher goes into the object store once, as its own object: a trial fetches only the
    # one for its config. with_parameters puts the data once too; trials read those numpy arrays
    # zero-copy instead of re-reading files.
    refs = {key: ray.put(blob) for key, blob in teachers.items()}
    # `data_ref`: the arrays already in the store (`share_dataset`); with_parameters passes an
    # ObjectRef through as it is, so they are not copied a second time.
    data = data_ref if data_ref is not None else dataset.to_arrays()
    # Teacher targets (the teacher cache): one object per teacher and loss, beside the data.
    target_refs = {key: ray.put(arrays) for key, arrays in (targets or {}).items()}
    fn = tune.with_parameters(student_trial, base=space.config, data=data, teachers=refs,
                              fingerprint=dataset.fingerprint, cpus_per_trial=plan.cpus_per_trial,
                              targets=target_refs)
    return tune.with_resources(fn, plan.trial_resources)


def build_callbacks(space: Space, folder: Path, console) -> list:
    from kdsearch.search.live_leaderboard import LiveLeaderboard
    from kdsearch.search.results_writer import ResultsWriter
    from kdsearch.search.forget_finished import ForgetFinishedMetrics

    searched = list(space.params)
    metric, mode = space.search["metric"], space.search["mode"]
    epochs = int(space.config["train"]["epochs"])
    return [
        # resume=True even for a fresh search (its folder is new and empty): this callback is
        # pickled into Tune's experiment state, and on `--resume` the restored copy must take
        # back the rows already written rather than start empty.
        ResultsWriter(str(folder), searched=searched, metric=metric, mode=mode, max_epochs=epochs, resume=True,
                      meta_extra={"rungs": rungs(space), "space": space.name,
                                  "objectives": space.search["objectives"]},
                      tune_dir=str(folder / TUNE_DIR)),  # backs up Tune's state (local runs only)
        LiveLeaderboard(searched=searched, metric=metric, mode=mode, max_epochs=epochs,
                        num_samples=int(space.search["num_samples"]), rungs=rungs(space), console=console,
                        objectives=space.search["objectives"], results_dir=str(folder)),
        # Last: the callbacks above see a finished trial's full statistics first.
        ForgetFinishedMetrics([metric, *(o["metric"] for o in space.search["objectives"])]),
    ]


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
                console, targets: dict | None = None):
    from ray import tune

    trainable = build_trainable(space, dataset, teachers, plan, data_ref, targets)
    storage, exp_name = tune_location(folder, name, opts.storage)
    if opts.resume:
        return tune.Tuner.restore(f"{storage}/{exp_name}", trainable=trainable, resume_unfinished=True,
                                  resume_errored=True)
    metric, mode = space.search["metric"], space.search["mode"]
    run_config = tune.RunConfig(
        name=exp_name, storage_path=storage, verbose=0,
        callbacks=build_callbacks(space, folder, console),
        failure_config=tune.FailureConfig(max_failures=int(space.search["max_failures"])),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=2, checkpoint_score_attribute=metric,
                                                checkpoint_score_order=mode),
    )
    tune_config = tune.TuneConfig(
        metric=metric, mode=mode, search_alg=build_searcher(space, name, folder), scheduler=build_scheduler(space),
        num_samples=int(space.search["num_samples"]), max_concurrent_trials=plan.max_concurrent, reuse_actors=True,
    )
    return tune.Tuner(trainable, tune_config=tune_config, run_config=run_config)
