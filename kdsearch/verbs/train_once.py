"""`kdsearch train SPACE`: train the space's fixed configuration once, in this process, no Ray.

A search trial and this command run the very same code (the kind's `build_run` and the one Trainer), so a
configuration can be trained, debugged or profiled on its own, and kept: `--out` writes the best
validation epoch's model in kdsearch's model-file format (`kdsearch predict` runs it). Searched
parameters take the values the space fixes for them; `--set loss.beta=2` changes any setting and
is checked exactly like the file. The teacher comes from the cache, or is trained and cached as
a search would.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import yaml
from rich.console import Console

from kdsearch import safe_yaml
from kdsearch.errors import UserError


def parse_sets(items: list[str] | None) -> dict:
    """`["loss.beta=2", "train.epochs=3"]` -> {"loss.beta": 2, "train.epochs": 3} (values read as YAML)."""
    out = {}
    for item in items or []:
        path, sep, text = item.partition("=")
        if not sep or not path.strip():
            raise UserError(f"expected PATH=VALUE (e.g. loss.beta=2), got {item!r}", field="--set")
        try:
            out[path.strip()] = safe_yaml.load(text) if text.strip() else None  # 1e-3 is a number here too
        except yaml.YAMLError:
            raise UserError(f"{path.strip()}: {text!r} is not a YAML value", field="--set") from None
    return out


def load_space_with_sets(space_arg: str, sets: list[str] | None):
    """The space with `--set` overrides; a problem an override caused names `--set PATH=VALUE`,
    not the space file, which is fine."""
    from kdsearch.errors import SpaceError
    from kdsearch.spec.space import load_space

    overrides = parse_sets(sets)
    try:
        return load_space(space_arg, overrides=overrides)
    except SpaceError as exc:
        field = exc.field or ""
        culprit = next((item for item in sets or [] for path in [item.partition("=")[0].strip()]
                        if field == path or field.startswith(path + ".") or path.startswith(field + ".")), None)
        if culprit is None or not field:
            raise
        raise SpaceError(exc.problem, file=f"--set {culprit}", field=field) from None


def train_once(space_arg: str, *, sets: list[str] | None = None, out: str | None = None,
               device: str | None = None, console: Console | None = None) -> dict:
    """Train the configuration; returns the best epoch's validation metrics (with ``epoch``)."""
    from kdsearch.data.source import load_for_search
    from kdsearch.models.checkpoint import model_blob, save_model_file
    from kdsearch.results.records import is_better
    from kdsearch.train.teacher_cache import get_teacher
    from kdsearch.spec.kinds import kind_of
    from kdsearch.train.experiment import data_shapes_of
    from kdsearch.train.tasks import get_task

    console = console or Console()
    space = load_space_with_sets(space_arg, sets)
    exp = copy.deepcopy(space.config)
    metric, mode = space.search["metric"], space.search["mode"]
    if device not in (None, "cpu", "cuda"):
        raise UserError(f"must be cpu or cuda, got {device!r}", field="--device")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("cuda asked for, but PyTorch sees no CUDA device", field="--device")
    where = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dataset = load_for_search(exp["data"], console=console, splits=("train", "valid"))
    arrays = dataset.to_arrays()
    kind = kind_of(exp)
    targets = None
    if kind.needs_teacher(exp):
        from kdsearch.spec.teacher_cache_plan import in_process_targets

        blob, _ = get_teacher(exp, dataset, console=console, device=where.type)
        targets = in_process_targets(exp, dataset, blob, device=where.type, console=console)
    else:
        blob = data_shapes_of(arrays)
    trainer, train, valid, model = kind.build_run(exp, arrays, blob, where, targets=targets)
    best: dict = {}
    best_state: dict | None = None

    def report(_trainer, epoch: int, metrics: dict) -> None:
        nonlocal best, best_state
        shown = "  ".join(f"{k}={v:.4g}" for k, v in metrics.items() if k.startswith(("train_", "val_")))
        console.print(f"  epoch {epoch}/{exp['train']['epochs']}  {shown}  ({metrics['epoch_time_s']:.1f}s)")
        if metric in metrics and is_better(float(metrics[metric]), best.get(metric), mode):
            best = {k: float(v) for k, v in metrics.items()}
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()} if out else None

    trainer.hooks.append(report)
    console.print(f"Training {kind.model_title(exp)} of {space.file} on {where.type}, {exp['train']['epochs']} epoch(s), "
                  f"seed {exp['train']['seed']}")
    trainer.fit(train, valid)
    if not best:
        raise UserError(f"no epoch reported a finite {metric}: the run diverged", field=metric)
    console.print(f"Best epoch {int(best['epoch'])}: " + ", ".join(
        f"{k[4:]}={v:.4f}" for k, v in best.items() if k.startswith("val_") and k != "val_loss"))
    if out:
        shapes = data_shapes_of(arrays)
        model.load_state_dict(best_state)
        blob_out = model_blob(model, arch=kind.model_arch, config=kind.model_file_config(exp), dims=shapes["dims"], lengths=shapes["lengths"],
                              n_out=get_task(exp["task"]).n_out, task=exp["task"],
                              source=f"kdsearch train {Path(space.file).name}@epoch{int(best['epoch'])}",
                              val_metrics=best)
        save_model_file(blob_out, out)
        console.print(f"Model of epoch {int(best['epoch'])} -> {out} (`kdsearch predict {out} DATA.h5`)")
    return best


def train_command(space_arg: str, *, sets: list[str] | None = None, out: str | None = None,
                  device: str | None = None, console: Console | None = None) -> int:
    train_once(space_arg, sets=sets, out=out, device=device, console=console)
    return 0
