"""`kdsearch experiment kd-gain`: `kdsearch confirm` on the synthetic default, without a search.

The experiment is a space file (default ``search_spaces/edam_scarce.yaml``) run at its fixed
values: its one configuration (the distilled student) and the matching no-KD student (β 0, the
same student, labelled subset and epochs) are trained over the given training seeds as one Ray
Tune grid, each run's epoch chosen on the validation split and scored once on the test split,
with the teacher's test metrics, chance and the paired difference (Wilcoxon signed-rank and
paired t-test): exactly what `kdsearch confirm` does for a search's best configurations
(`kdsearch.verbs.confirm`). The dataset (the space's synthetic preset at its data seed, or its
data.path) and the teacher are fixed; seeds vary the students' training.

Results go to OUT's folder (``results/kd_gain/``: the grid, resumable by running again) and
OUT (``results/kd_gain.md``) with its JSON beside it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from kdsearch.config import with_overrides
from kdsearch.errors import UserError

DEFAULT_SPACE = "edam_scarce"


@dataclass
class KDGainOptions:
    """What to run.

    Attributes:
        seeds: training seeds (each trains both students once).
        epochs: student epochs (default: the space's ``train.epochs``).
        teacher_epochs: teacher epochs (default: the space's ``teacher_train.epochs``).
        space: the space file (or bundled name) whose fixed config is the experiment.
        generator: overrides of the synthetic generator's knobs (e.g. tiny sizes in tests).
        overrides: dotted config paths set on the space's config (e.g. ``{"student.d_model": 8}``).
        device: "cpu", "cuda" or "auto" (the GPUs when there are any).
    """

    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int | None = None
    teacher_epochs: int | None = None
    space: str = DEFAULT_SPACE
    generator: dict = field(default_factory=dict)
    overrides: dict = field(default_factory=dict)
    device: str = "cpu"


def experiment_config(opts: KDGainOptions):
    """(the space's fixed experiment config with the options applied, the space).

    Raises:
        UserError: an option is out of range, or the space has no distillation to measure.
    """
    from kdsearch.spec.space import load_space

    if not opts.seeds or any(not isinstance(s, int) or s < 0 for s in opts.seeds):
        raise UserError(f"need one or more non-negative integer seeds, got {list(opts.seeds)}", field="--seeds")
    if len(set(opts.seeds)) != len(opts.seeds):
        raise UserError(f"seeds repeat: {list(opts.seeds)}", field="--seeds")
    space = load_space(opts.space)
    values = dict(opts.overrides)
    for path, value, flag in (("train.epochs", opts.epochs, "--epochs"),
                              ("teacher_train.epochs", opts.teacher_epochs, "--teacher-epochs")):
        if value is not None:
            if not isinstance(value, int) or value < 1:
                raise UserError(f"must be a positive integer, got {value!r}", field=flag)
            values[path] = value
    config = with_overrides(space.config, values)
    if config.get("kind", "distill") != "distill" or float(config["loss"]["beta"]) == 0.0:
        raise UserError("the distilled student needs kind distill and loss.beta > 0 (the no-KD student is "
                        "trained anyway)", file=space.file, field="loss.beta")
    if config["data"].get("synthetic") and not config["data"].get("path") and opts.generator:
        config["data"] = {"path": str(dataset_file(config["data"]["synthetic"], int(config["data"].get("seed", 0)),
                                                   opts.generator))}
    return config, space


def dataset_file(preset: str, seed: int, generator: dict) -> Path:
    """Generate (once) the preset with changed generator knobs, named by its parameters' hash."""
    from kdsearch.data.synthetic import generate, resolve_params
    from kdsearch.train.teacher_cache import cache_root

    params = dataclasses.asdict(resolve_params(preset, **generator))
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    path = cache_root() / "data" / "kd-gain" / f"synthetic-{preset}-seed{seed}-{digest}.h5"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        generate(path, preset=preset, seed=seed, **generator)
    return path


def run_options(device: str):
    """`RunOptions` for a device choice: cpu (no GPU), cuda (every GPU, refused when none), auto."""
    import torch

    from kdsearch.search.driver import RunOptions

    if device not in ("cpu", "cuda", "auto"):
        raise UserError(f"must be cpu, cuda or auto, got {device!r}", field="--device")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("no CUDA device is visible", field="--device")
    return RunOptions(gpus=0 if device == "cpu" else None)


def run_kd_gain(opts: KDGainOptions, out_dir: Path, console=None) -> dict:
    """Train, score and report; returns `kdsearch confirm`'s JSON report (see `confirm_stats`)."""
    from rich.console import Console

    from kdsearch.verbs.confirm import run_plan
    from kdsearch.verbs.confirm_plan import build_plan

    config, space = experiment_config(opts)
    run = run_options(opts.device)
    plan = build_plan(config, [{}], list(opts.seeds), metric=space.search["metric"], mode=space.search["mode"],
                      labels=["distilled"], record={"resources": space.resources, "search": space.search})
    return run_plan(plan, Path(out_dir), run, console or Console(quiet=True),
                    source=f"kd-gain, space {space.file}")


def kd_gain_command(*, seeds, epochs=None, teacher_epochs=None, out="results/kd_gain.md", space=DEFAULT_SPACE,
                    device="cpu", generator=None, overrides=None, console=None) -> int:
    """CLI entry: run, write OUT (.md) and OUT with .json beside it (the grid in OUT without suffix).

    `generator` and `overrides` are `KDGainOptions`' (not on the command line; tests shrink with them).
    """
    from kdsearch.atomic import atomic_write_text

    opts = KDGainOptions(seeds=tuple(seeds), epochs=epochs, teacher_epochs=teacher_epochs, space=space,
                         device=device, generator=dict(generator or {}), overrides=dict(overrides or {}))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    run_kd_gain(opts, out.with_suffix(""), console=console)
    atomic_write_text(out, (out.with_suffix("") / "confirm.md").read_text())
    atomic_write_text(out.with_suffix(".json"), (out.with_suffix("") / "confirm.json").read_text())
    print(f"Wrote {out} and {out.with_suffix('.json')} (the runs: {out.with_suffix('')}/)")
    return 0
