"""The experiment config every space file fills in: sections, their keys and defaults.

One space file is one experiment. Sections other than ``teacher`` and ``student`` (whose keys
and defaults belong to the model builders) are described here; a key not listed is refused with
a did-you-mean, so a typo never silently falls back to a default.
"""

from __future__ import annotations

from kdsearch.train.recipes import RECIPE_DEFAULTS

# Defaults chosen for a CPU run of the embedded synthetic data; the bundled spaces override
# them where a paper fixes a value. Each choice is one the papers leave open (docs/methods.md §8).
EXPERIMENT_DEFAULTS: dict = {
    "data": {
        # Either `synthetic: <preset>` (generated once into the cache) or `path: FILE.h5`.
        "synthetic": "small",
        "path": None,
        "seed": 0,
    },
    # classification: paper 000's 7 classes, round(clip(y,-3,3))+3; regression: MOSEI's L1 task.
    "task": "classification",
    "teacher_train": {
        "epochs": 10,
        "batch_size": 64,
        "lr": 1.0e-3,
        "weight_decay": 0.0,
        "grad_clip": 0.8,  # MulT's clip_grad_norm_ value
        "seed": 0,
        # preset (none / mult / dmd), accumulate, clip_mode, lr_schedule, plateau_*, early_stop_*:
        # the reference codes' recipes, kdsearch.train.recipes.
        **RECIPE_DEFAULTS,
    },
    "distill": {
        "method": "edam",
        "level": "attention_maps",
        # student pair -> teacher pair; null = paper 000's pairing for the student configuration.
        "pairs": None,
        # auto: the teacher's targets (what the loss reads from it) are computed once per search
        # and read by sample index when they fit the object store's budget, else the teacher
        # runs in every trial; on: refuse to start when they do not fit; off: always online.
        "teacher_cache": "auto",
        # float32 keeps KD exact; float16/bfloat16 halve the cache's memory.
        "teacher_cache_dtype": "float32",
        # Further keys are the method's options (temperature, direction, heads, ...), checked
        # against the loss registry.
    },
    "loss": {
        "alpha": 1.0,  # weight of the task loss
        "beta": 1.0,  # weight of the distillation loss
    },
    "train": {
        "epochs": 8,
        "batch_size": 64,
        "lr": 1.0e-3,
        "weight_decay": 0.0,
        "grad_clip": 0.8,
        "seed": 0,
        # The student's task loss sees only this seeded share of the training labels, while the
        # distillation term runs on every training sample (distillation pays most when labels
        # are scarce: docs/methods.md §8.3, §9). 1.0 = every label. The subset depends on
        # labelled_seed only, so every trial (and the beta=0 baseline) sees the same labels.
        "labelled_fraction": 1.0,
        "labelled_seed": 0,
        **RECIPE_DEFAULTS,
    },
}

SEARCH_DEFAULTS: dict = {
    "metric": "val_acc7",
    "mode": "max",
    "num_samples": 12,
    "max_concurrent": 0,  # 0 = as many as the resources allow
    "scheduler": {"name": "asha", "grace_period": 1, "reduction_factor": 2},
    "sampler": {"name": "tpe", "seed": 0, "n_startup_trials": 4},
    "max_failures": 1,
    # Extra objectives for a multi-objective search, e.g. [{metric: student_params, mode: min}].
    # ASHA keeps stopping on `metric`; Optuna optimises all of them; the leaderboard marks the
    # Pareto front.
    "objectives": [],
    # Which epoch of a trial Optuna, ASHA and the leaderboard all read: its best validation epoch
    # (default) or its last one (Ray Tune's own habit). kdsearch.results.objective explains how.
    "objective_epoch": "best",
}

# students_per_worker: trials trained as one batched model in a worker, each still its own Tune
# trial (docs/packing.md); 1 is one student per worker. Packing gains nothing on a CPU (one thread
# is already busy with one student: README "Speed"), so 1 is the default; on a GPU the figure from
# benchmarks/gpu_check.sh decides. pack_shares_batches: the students of a pack see the same batch
# order, so one teacher forward serves them all where the teacher cache is off or does not fit.
RESOURCES_DEFAULTS: dict = {"cpus_per_trial": 1, "gpus_per_trial": 0.25, "students_per_worker": 1,
                            "pack_shares_batches": False}

# What `--smoke-test` changes: two trials of one epoch, a one-epoch teacher, to prove the wiring.
SMOKE_DEFAULTS: dict = {
    "search.num_samples": 2,
    "train.epochs": 1,
    "teacher_train.epochs": 1,
}

TOP_LEVEL_KEYS = {
    "name", "description", "kind", "data", "task", "teacher", "teacher_train", "student", "distill",
    "loss", "train", "model", "params", "search", "resources", "smoke_test", "rows",
}
# The sections only a `kind: distill` experiment has (the kinds: kdsearch.spec.kinds).
DISTILL_ONLY = ("teacher", "teacher_train", "student", "distill", "loss")
TASKS = ("classification", "regression")
SCHEDULERS = ("asha", "fifo")
SAMPLERS = ("tpe", "random", "grid")  # grid: every combination of categorical params once
# Per-trial facts that can be extra objectives (besides the validation metrics).
FACT_OBJECTIVES = ("student_params", "latency_ms")
METRICS = {
    "classification": ("val_acc7", "val_f1", "val_acc2", "val_loss"),
    "regression": ("val_mae", "val_corr", "val_acc7", "val_acc5", "val_acc2", "val_f1", "val_acc2_has0",
                   "val_f1_has0", "val_loss"),
}
