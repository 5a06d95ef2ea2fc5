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

STATE_FILE = "state.pt"


def pick_device() -> torch.device:
    """The GPU Ray assigned to this trial, else the CPU."""
    import ray

    if torch.cuda.is_available() and ray.get_gpu_ids():
        return torch.device("cuda")
    return torch.device("cpu")


def student_trial(config: dict, *, base: dict, data: dict, teachers: dict, fingerprint: str,
                  cpus_per_trial: float = 1, objective: dict | None = None, targets: dict | None = None) -> None:
    """The Ray Tune function trainable: `config` holds the sampled values by dotted path.

    `teachers` maps teacher cache keys to object refs; the trial fetches only its own teacher.
    `objective`: `ChosenEpoch`'s arguments; each report then carries the `objective/...` columns
    Tune's metric names (kdsearch.results.objective).
    `targets` maps teacher-target keys to object refs (the teacher cache): a trial whose key is
    there reads its teacher's outputs by sample index instead of running the teacher.
    """
    import ray
    from ray import tune

    from kdsearch.models.build import count_parameters
    from kdsearch.search.teacher_pool import fetch_targets, fetch_teacher
    from kdsearch.spec.kinds import kind_of
    from kdsearch.train.experiment import data_shapes_of
    from kdsearch.train.teacher_cache import teacher_key

    # Several trials share a machine: each uses only the CPUs it holds (thread oversubscription
    # made packed trials slower than one trial alone).
    torch.set_num_threads(max(1, int(cpus_per_trial)))
    exp = with_overrides(base, config)
    kind = kind_of(exp)
    device = pick_device()
    teacher, fetched = data_shapes_of(data), None
    if teachers and kind.needs_teacher(exp):
        teacher, fetched = fetch_teacher(teachers[teacher_key(exp, fingerprint)])
    cached = None
    if targets and kind.needs_teacher(exp):
        from kdsearch.train.teacher_targets import key_for_config

        ref = targets.get(key_for_config(exp, fingerprint))
        cached = fetch_targets(ref) if ref is not None else None
    trainer, train, valid, student = kind.build_run(exp, data, teacher, device, targets=cached)
    labelled = train.n if train.labelled is None else int(train.labelled.sum())
    extra = {"student_params": count_parameters(student), "latency_ms": inference_latency_ms(student, valid),
             "seed": exp["train"]["seed"], "labelled": labelled,
             # 1: the teacher's outputs were read from the teacher cache; 0: it ran every step.
             "teacher_cache": int(trainer.objective.targets is not None),
             "node_id": ray.get_runtime_context().get_node_id(), "device": device.type,
             # The GPU share Ray gave this trial (0.25 when four share a GPU): GPU-seconds = share x time.
             "gpus": float(ray.get_runtime_context().get_assigned_resources().get("GPU", 0.0))}
    if fetched is not None:  # 1: this trial pulled the teacher onto its node; 0: the node had it
        extra["teacher_fetched"] = fetched

    # Every epoch's reported metrics travel in the checkpoint: a driver killed after Tune saved
    # a checkpoint but before the results files caught up gets the missing epoch rows back from
    # the first report after the restore (`earlier_epochs`), instead of a hole in epochs.parquet.
    history: list[dict] = []
    replay: dict = {}
    chosen = ChosenEpoch(**objective) if objective else None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            saved = torch.load(os.path.join(folder, STATE_FILE), map_location=device, weights_only=True)
        trainer.load_state(saved["trainer"], saved["epoch"])
        extra["resumed_from_epoch"] = int(saved["epoch"])  # visible in epochs.parquet
        history = list(saved.get("history", []))
        replay = {"earlier_epochs": history[:]}
        for old in history:  # the chosen epoch so far, as before the restart
            if chosen is not None:
                chosen.update(old)

    def report(trainer_, epoch, metrics):  # a DMD model's heads and edges come with the metrics
        row = {**metrics, **extra, "epoch": epoch}
        history.append({k: float(v) for k, v in row.items() if isinstance(v, (int, float))})
        picked = chosen.update(row) if chosen is not None else {}
        with tempfile.TemporaryDirectory() as folder:
            torch.save({"trainer": trainer_.state(), "epoch": epoch, "history": history},
                       os.path.join(folder, STATE_FILE))
            tune.report({**metrics, **extra, **picked, **replay}, checkpoint=tune.Checkpoint.from_directory(folder))
        replay.clear()  # only the first report after a restore carries the history

    trainer.hooks.append(report)
    trainer.fit(train, valid)


def grid_trial(config: dict, *, runs: dict[str, dict], **kwargs) -> None:
    """The trainable of a `kdsearch confirm` grid: `config` is one (configuration, seed) cell;
    `runs` maps each configuration's label to its dotted overrides (the same for every seed)."""
    student_trial({**runs[config["configuration"]], "train.seed": int(config["train.seed"])}, **kwargs)


def inference_latency_ms(student: torch.nn.Module, split, repeats: int = 10) -> float:
    """Median batch-1 inference time of the trained model on this trial's device (an objective
    for multi-objective searches: accuracy against latency)."""
    import time

    from kdsearch.train.objectives import run_model

    batch = split.batch(torch.zeros(1, dtype=torch.long, device=split.label.device))
    sample = batch["vision"]
    was_training = student.training
    student.eval()
    times = []
    with torch.no_grad():
        for i in range(repeats + 2):
            if sample.is_cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            run_model(student, batch)  # video alone for a student, all modalities for DMD
            if sample.is_cuda:
                torch.cuda.synchronize()
            if i >= 2:  # the first calls warm caches up
                times.append(time.perf_counter() - start)
    student.train(was_training)
    return round(1000 * sorted(times)[len(times) // 2], 3)
