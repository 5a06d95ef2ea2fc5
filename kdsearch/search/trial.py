"""One search trial: build the student, read the shared teacher and data, train, report.

Runs inside a Ray worker. The dataset arrays and the teacher's weights arrive through
`tune.with_parameters`, i.e. one `ray.put` on the driver and a zero-copy read of the numpy
arrays here; nothing is re-read from disk. Each epoch reports validation metrics (never test)
with a checkpoint, so ASHA can stop the trial and a retried trial resumes where it stopped.
"""

from __future__ import annotations

import os
import tempfile

import torch

from kdsearch.config import with_overrides
from kdsearch.results.objective import ChosenEpoch
from kdsearch.train.latency import inference_latency_ms

STATE_FILE = "state.pt"


def pick_device() -> torch.device:
    """The GPU Ray assigned to this trial, else the CPU."""
    import ray

    if torch.cuda.is_available() and ray.get_gpu_ids():
        return torch.device("cuda")
    return torch.device("cpu")


def student_trial(config: dict, *, base: dict, data: dict, teachers: dict, fingerprint: str,
                  cpus_per_trial: float = 1, objective: dict | None = None, targets: dict | None = None,
                  packs=None) -> None:
    """The Ray Tune function trainable: `config` holds the sampled values by dotted path.

    `teachers` maps teacher cache keys to object refs; the trial fetches only its own teacher.
    `objective`: `ChosenEpoch`'s arguments; each report then carries the `objective/...` columns
    Tune's metric names (kdsearch.results.objective).
    `targets` maps teacher-target keys to object refs (the teacher cache): a trial whose key is
    there reads its teacher's outputs by sample index instead of running the teacher.
    `packs`: with `resources.students_per_worker` > 1, the search's `PackHub`: the trial is then a
    thin client of a pack that trains it (kdsearch.search.packs).
    """
    exp = with_overrides(base, config)
    if packs is not None:
        from kdsearch.search.packs import packed_trial

        return packed_trial(exp, packs, fingerprint=fingerprint, objective=objective)
    # Several trials share a machine: each uses only the CPUs it holds (thread oversubscription
    # made packed trials slower than one trial alone).
    torch.set_num_threads(max(1, int(cpus_per_trial)))
    device = pick_device()
    (trainer, train, valid, _), extra = build_trial_run(exp, data, teachers, targets, fingerprint, device)
    reporter = Reporter(extra, objective)
    resumed = reporter.resume(device)
    if resumed is not None:
        trainer.load_state(*resumed)
    trainer.hooks.append(lambda trainer_, epoch, metrics: reporter.report(trainer_.state(), epoch, metrics))
    trainer.fit(train, valid)


class Reporter:
    """Reports a trial's epochs to Tune, each with a checkpoint of its state.

    Every epoch's reported metrics travel in the checkpoint: a driver killed after Tune saved a
    checkpoint but before the results files caught up gets the missing epoch rows back from the
    first report after the restore (`earlier_epochs`), instead of a hole in epochs.parquet.
    """

    def __init__(self, extra: dict, objective: dict | None):
        self.extra, self.history, self.replay = extra, [], {}
        self.chosen = ChosenEpoch(**objective) if objective else None

    def resume(self, device) -> tuple[dict, int] | None:
        """(trainer state, epoch) of the checkpoint Tune restored this trial from, if any."""
        from ray import tune

        checkpoint = tune.get_checkpoint()
        if checkpoint is None:
            return None
        with checkpoint.as_directory() as folder:
            saved = torch.load(os.path.join(folder, STATE_FILE), map_location=device, weights_only=True)
        self.extra["resumed_from_epoch"] = int(saved["epoch"])  # visible in epochs.parquet
        self.history = list(saved.get("history", []))
        self.replay = {"earlier_epochs": self.history[:]}
        for old in self.history:  # the chosen epoch so far, as before the restart
            if self.chosen is not None:
                self.chosen.update(old)
        return saved["trainer"], int(saved["epoch"])

    def report(self, state: dict, epoch: int, metrics: dict) -> None:
        """One epoch (a DMD model's heads and edges come with the metrics)."""
        from ray import tune

        row = {**metrics, **self.extra, "epoch": epoch}
        self.history.append({k: float(v) for k, v in row.items() if isinstance(v, (int, float))})
        picked = self.chosen.update(row) if self.chosen is not None else {}
        with tempfile.TemporaryDirectory() as folder:
            torch.save({"trainer": state, "epoch": epoch, "history": self.history}, os.path.join(folder, STATE_FILE))
            tune.report({**metrics, **self.extra, **picked, **self.replay},
                        checkpoint=tune.Checkpoint.from_directory(folder))
        self.replay = {}  # only the first report after a restore carries the history


def build_trial_run(exp: dict, data: dict, teachers: dict, targets: dict | None, fingerprint: str, device):
    """A trial's run (its kind's `build_run`, with its teacher and cached targets fetched from
    the object store) and the facts every report of it carries."""
    import ray

    from kdsearch.models.build import count_parameters
    from kdsearch.search.teacher_pool import fetch_targets, fetch_teacher
    from kdsearch.spec.kinds import kind_of
    from kdsearch.train.experiment import data_shapes_of
    from kdsearch.train.teacher_cache import teacher_key

    kind = kind_of(exp)
    teacher, fetched = data_shapes_of(data), None
    if teachers and kind.needs_teacher(exp):
        teacher, fetched = fetch_teacher(teachers[teacher_key(exp, fingerprint)])
    cached = None
    if targets and kind.needs_teacher(exp):
        from kdsearch.train.teacher_targets import key_for_config

        ref = targets.get(key_for_config(exp, fingerprint))
        cached = fetch_targets(ref) if ref is not None else None
    run = kind.build_run(exp, data, teacher, device, targets=cached)
    labelled = run.train.n if run.train.labelled is None else int(run.train.labelled.sum())
    extra = {"student_params": count_parameters(run.model), "latency_ms": inference_latency_ms(run.model, run.valid),
             "seed": exp["train"]["seed"], "labelled": labelled,
             # 1: the teacher's outputs were read from the teacher cache; 0: it ran every step.
             "teacher_cache": int(run.trainer.objective.targets is not None),
             "node_id": ray.get_runtime_context().get_node_id(), "device": device.type,
             # The GPU share Ray gave this trial (0.25 when four share a GPU): GPU-seconds = share x time.
             "gpus": float(ray.get_runtime_context().get_assigned_resources().get("GPU", 0.0))}
    if fetched is not None:  # 1: this trial pulled the teacher onto its node; 0: the node had it
        extra["teacher_fetched"] = fetched
    return run, extra


def grid_trial(config: dict, *, runs: dict[str, dict], **kwargs) -> None:
    """The trainable of a `kdsearch confirm` grid: `config` is one (configuration, seed) cell;
    `runs` maps each configuration's label to its dotted overrides (the same for every seed)."""
    student_trial({**runs[config["configuration"]], "train.seed": int(config["train.seed"])}, **kwargs)
