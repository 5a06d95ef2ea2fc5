"""`kdsearch experiment kd-gain`: teacher vs no-KD student vs EDAM student, over seeds.

The experiment is a space file (default ``search_spaces/edam_scarce.yaml``) run at its fixed
values: what a search would tune around is measured here once, so the README's claim about the
synthetic default can be re-run by anyone. For each seed s, the dataset (the space's synthetic
preset), the teacher, the students and the labelled subset all use seed s:

1. generate the dataset (cached under ``$KDSEARCH_CACHE/data/kd-gain/``, named by preset, seed
   and a hash of the generator's parameters, so a changed default never reuses a stale file);
2. get the teacher through the teacher cache (`get_teacher`), exactly as a search would;
3. train the no-KD student (beta 0) and the distilled student with the same labelled subset,
   through the distill kind's `build_run` (a search trial's own code), keeping each model's best epoch on
   the validation split;
4. evaluate all three on the test split, which nothing above has seen.

Where the distilled maps look (attention mass on the planted event steps) is measured too: the
teacher's distilled maps and the students' maps, so the table says *why* distillation did or
did not pay. Results: a Markdown table plus JSON (`kdsearch.experiments.kd_gain_report`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from kdsearch.config import with_overrides
from kdsearch.errors import UserError

DEFAULT_SPACE = "edam_scarce"
MODELS = ("teacher", "no_kd", "kd")


@dataclass
class KDGainOptions:
    """What to run.

    Attributes:
        seeds: one full run (data, teacher, both students) per seed.
        epochs: student epochs (default: the space's ``train.epochs``).
        teacher_epochs: teacher epochs (default: the space's ``teacher_train.epochs``).
        space: the space file (or bundled name) whose fixed config is the experiment.
        generator: overrides of the synthetic generator's knobs (e.g. tiny sizes in tests).
        overrides: dotted config paths set on the space's config (e.g. ``{"student.d_model": 8}``).
        device: "cpu", "cuda" or "auto" (a GPU when one is visible).
    """

    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int | None = None
    teacher_epochs: int | None = None
    space: str = DEFAULT_SPACE
    generator: dict = field(default_factory=dict)
    overrides: dict = field(default_factory=dict)
    device: str = "cpu"


def experiment_config(opts: KDGainOptions) -> tuple[dict, dict]:
    """(the space's fixed experiment config with the options applied, its search section).

    Raises:
        UserError: the space does not use synthetic data, or an option is out of range.
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
    if config["data"].get("path") or not config["data"].get("synthetic"):
        raise UserError("kd-gain generates its data per seed: the space needs data.synthetic (not data.path)",
                        file=space.file, field="data")
    if float(config["loss"]["beta"]) == 0.0:
        raise UserError("the distilled student needs loss.beta > 0 (the no-KD student is trained anyway)",
                        file=space.file, field="loss.beta")
    return config, space.search


def seed_config(config: dict, seed: int) -> dict:
    """The experiment of one seed: data, teacher, student and labelled subset all seeded with it."""
    return with_overrides(config, {"data.seed": seed, "teacher_train.seed": seed, "train.seed": seed,
                                   "train.labelled_seed": seed})


def dataset_file(preset: str, seed: int, generator: dict) -> Path:
    """Generate (once) and return the dataset of a seed, named by its parameters' hash."""
    from kdsearch.data.synthetic import generate, resolve_params
    from kdsearch.train.teacher_cache import cache_root

    params = dataclasses.asdict(resolve_params(preset, **generator))
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    path = cache_root() / "data" / "kd-gain" / f"synthetic-{preset}-seed{seed}-{digest}.h5"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        generate(path, preset=preset, seed=seed, **generator)
    return path


def evaluate_teacher(blob: dict, split, task_name: str, device) -> tuple[dict[str, float], torch.nn.Module]:
    """(test metrics of a cached teacher on one `TensorSplit`, the teacher built from it)."""
    from kdsearch.train.teachers import build_any_teacher
    from kdsearch.train.objectives import run_model
    from kdsearch.train.tasks import get_task

    teacher = build_any_teacher(blob["config"], dims=blob["dims"], lengths=blob["lengths"], n_out=blob["n_out"])
    teacher.load_state_dict(blob["state_dict"])
    teacher = teacher.to(device).eval()
    with torch.no_grad():
        preds = torch.cat([run_model(teacher, b).logits.float().cpu()
                           for b in split.batches(256, shuffle=False)]).numpy()
    return get_task(task_name).metrics(preds, split.label.cpu().numpy()), teacher


def train_student(exp: dict, arrays: dict, blob: dict, test, device, *, metric: str, mode: str,
                  label: str, console=None) -> tuple[dict, torch.nn.Module]:
    """Train one student as a search trial would, keep its best epoch on valid, test it.

    Returns:
        ({"epoch", "val", "test", "seconds", "labelled"}, the student with its best weights).
    """
    from kdsearch.spec.kinds import get_kind
    from kdsearch.train.trainer import best_tracker

    started = time.perf_counter()
    trainer, train, valid, student = get_kind("distill").build_run(exp, arrays, blob, device)
    best = best_tracker(metric, mode)
    trainer.hooks.append(best)
    if console is not None:
        every = max(1, exp["train"]["epochs"] // 5)

        def progress(_trainer, epoch, metrics):
            if epoch % every == 0 or epoch == exp["train"]["epochs"]:
                console.print(f"    {label} epoch {epoch}/{exp['train']['epochs']}  {metric}={metrics[metric]:.3f}"
                              f"  ({metrics['epoch_time_s']:.1f}s)")

        trainer.hooks.append(progress)
    trainer.fit(train, valid)
    trainer.objective.load_state_dict(best.weights)
    result = {"epoch": int(best.best["epoch"]),
              "val": {k[4:]: float(v) for k, v in best.best.items() if k.startswith("val_")},
              "test": trainer.evaluate(test), "seconds": round(time.perf_counter() - started, 1),
              "labelled": train.n if train.labelled is None else int(train.labelled.sum())}
    return result, student.eval()


def run_seed(config: dict, seed: int, opts: KDGainOptions, *, metric: str, mode: str, device, console=None) -> dict:
    """Data, teacher, no-KD and distilled students for one seed; every number of that seed."""
    from kdsearch.data.layout import load_dataset
    from kdsearch.experiments.map_focus import map_focus
    from kdsearch.train.teacher_cache import get_teacher, teacher_path
    from kdsearch.train.experiment import build_kd_loss, tensor_split

    started = time.perf_counter()
    exp = seed_config(config, seed)
    path = dataset_file(config["data"]["synthetic"], seed, opts.generator)
    dataset = load_dataset(path)
    blob, reused = get_teacher(exp, dataset, console=console, device=str(device))
    arrays = dataset.to_arrays()
    test = tensor_split(arrays, "test", device)
    pairs = dict(getattr(build_kd_loss(exp), "pairs", None) or {})  # attention-map losses name their maps
    teacher_test, teacher = evaluate_teacher(blob, test, exp["task"], device)
    valid = dataset.splits["valid"]
    row = {"seed": seed, "data": str(path), "teacher_path": str(teacher_path(exp, dataset.fingerprint)),
           "teacher_reused": reused, "pairs": pairs,
           "teacher": {"epoch": int(blob["val_metrics"].get("epoch", 0)), "test": teacher_test,
                       "val": {k[4:]: v for k, v in blob["val_metrics"].items() if k.startswith("val_")},
                       "focus": map_focus(teacher, "teacher", valid, pairs.values(), blob["lengths"], device)
                       if pairs else {}}}
    for name, beta in (("no_kd", 0.0), ("kd", float(exp["loss"]["beta"]))):
        result, student = train_student(with_overrides(exp, {"loss.beta": beta}), arrays, blob, test, device,
                                        metric=metric, mode=mode, label=name, console=console)
        result["focus"] = map_focus(student, "student", valid, pairs.keys(), blob["lengths"], device) if pairs else {}
        row[name] = result
        if console is not None:
            console.print(f"  seed {seed} · {name}: epoch {result['epoch']} chosen on valid, test acc7 "
                          f"{result['test']['acc7']:.3f} ({result['seconds']:.0f}s)")
    row["seconds"] = round(time.perf_counter() - started, 1)
    return row


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise UserError(f"must be cpu, cuda or auto, got {name!r}", field="--device")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("no CUDA device is visible", field="--device")
    return torch.device(name)


def run_kd_gain(opts: KDGainOptions, console=None) -> dict:
    """Run every seed and summarise; returns the JSON-able report (see `kd_gain_report`)."""
    from kdsearch.experiments.kd_gain_report import summarise

    config, search = experiment_config(opts)
    device = resolve_device(opts.device)
    started = time.perf_counter()
    rows = []
    for seed in opts.seeds:
        if console is not None:
            console.print(f"[bold]kd-gain seed {seed}[/] ({len(rows) + 1}/{len(opts.seeds)})")
        rows.append(run_seed(config, seed, opts, metric=search["metric"], mode=search["mode"], device=device,
                             console=console))
    return summarise(rows, config=config, opts=opts, search=search, device=str(device),
                     wall_s=time.perf_counter() - started)


def kd_gain_command(*, seeds, epochs=None, teacher_epochs=None, out="results/kd_gain.md", space=DEFAULT_SPACE,
                    device="cpu", generator=None, overrides=None, console=None) -> int:
    """CLI entry: run, print the table, write OUT (.md) and OUT with .json beside it.

    `generator` and `overrides` are `KDGainOptions`' (not on the command line; tests shrink with them).
    """
    from kdsearch.experiments.kd_gain_report import markdown

    opts = KDGainOptions(seeds=tuple(seeds), epochs=epochs, teacher_epochs=teacher_epochs, space=space,
                         device=device, generator=dict(generator or {}), overrides=dict(overrides or {}))
    report = run_kd_gain(opts, console=console)
    text = markdown(report)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str))
    print(text)
    print(f"Wrote {out} and {out.with_suffix('.json')}")
    return 0
