"""`kdsearch confirm results/<name> --top K --seeds N`: does the search's best configuration beat
the no-KD student, by how much, over seeds, on the test split measured once?

The K best distinct configurations and their no-KD baselines (`confirm_plan`) are trained over the
same training seeds as ONE Ray Tune run (a grid over configuration x seed, FIFO: every run trains
its full epochs; trials pack on GPUs as a search's do) in results/<name>/confirm/, laid out like a
search (trials.parquet, epochs.parquet, tune/), so `kdsearch leaderboard results/<name>/confirm`
shows it and an interrupted confirmation resumes where it stopped when run again. Each run's epoch
is chosen on the validation split (its best checkpoint); only then is it scored on the test split,
once (evaluation.parquet keeps the scores; a re-run does not score again). The teacher's test
metrics and a constant predictor's ("chance") go beside them. Output: confirm.md, confirm.json,
confirm.png (`confirm_stats`, `confirm_report`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch
import yaml

from kdsearch.atomic import atomic_write_text
from kdsearch.config import with_overrides
from kdsearch.errors import UserError
from kdsearch.verbs.confirm_plan import CONFIRM_DIR, ConfirmPlan, plan_from_search

EVAL_FILE = "evaluation.parquet"


def grid_space(plan: ConfirmPlan, folder: Path):
    """The `Space` the grid runs under: the search's config, resources and failure policy, FIFO."""
    from kdsearch.spec import schema
    from kdsearch.spec.space import Space

    old = plan.record.get("search") or {}
    search = {**schema.SEARCH_DEFAULTS, "metric": plan.metric, "mode": plan.mode, "objectives": [],
              "num_samples": len(plan.runs) * len(plan.seeds), "scheduler": {"name": "fifo"},
              "max_concurrent": int(old.get("max_concurrent", 0)), "max_failures": int(old.get("max_failures", 1)),
              "objective_epoch": "best"}
    resources = {**schema.RESOURCES_DEFAULTS, **(plan.record.get("resources") or {})}
    return Space(file=str(folder / "space.yaml"), name=folder.name, description="kdsearch confirm",
                 config=plan.config, params={}, search=search, resources=resources, smoke_test={})


def _claim(folder: Path, plan: ConfirmPlan) -> bool:
    """Write confirm/space.yaml, or check a previous confirmation's matches; True to resume it."""
    record = {"config": plan.config, "runs": plan.runs, "seeds": plan.seeds, "baseline_of": plan.baseline_of,
              "trial_of": plan.trial_of, "metric": plan.metric, "mode": plan.mode, "storage": None,
              "resources": plan.record.get("resources")}
    path = folder / "space.yaml"
    if path.is_file():
        old = yaml.safe_load(path.read_text()) or {}
        for key in ("runs", "seeds", "config"):
            if old.get(key) != record[key]:
                raise UserError(f"a confirmation with other {key} is already here; remove the folder (or choose "
                                "other --top/--seeds to match it) to start again", file=str(folder), field=key)
        return any((folder / "tune").glob("experiment_state*.json"))
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, yaml.safe_dump(record, sort_keys=False))
    return False


def _finished(folder: Path, plan: ConfirmPlan) -> bool:
    path = folder / "trials.parquet"
    if not path.is_file():
        return False
    trials = pd.read_parquet(path)
    return len(trials) == len(plan.runs) * len(plan.seeds) and bool((trials["status"] == "done").all())


def run_plan(plan: ConfirmPlan, folder: Path, opts, console, source: str = "") -> dict:
    """Train (or resume) the grid, score each run once on test, write the report; returns it."""
    from kdsearch.search.driver import run_grid

    resume = _claim(folder, plan)
    if not _finished(folder, plan):
        total = len(plan.runs) * len(plan.seeds)
        console.print(f"[bold]kdsearch confirm[/]: {len(plan.runs)} configurations (baselines included) x "
                      f"{len(plan.seeds)} seeds = {total} runs in {folder}/" + (" (resuming)" if resume else ""))
        run_grid(grid_space(plan, folder), plan.runs, plan.seeds, folder, opts, console, resume=resume)
    runs = score_runs(folder, plan, console)
    from kdsearch.verbs.confirm_report import markdown, plot
    from kdsearch.verbs.confirm_stats import summarise

    teacher, chance = reference_metrics(plan)
    report = summarise(runs, plan, teacher=teacher, chance=chance)
    report["source"] = source
    atomic_write_text(folder / "confirm.json", json.dumps(report, indent=2, default=str))
    text = markdown(report, source=source)
    atomic_write_text(folder / "confirm.md", text)
    plot(report, folder / "confirm.png")
    console.print(text)
    console.print(f"Wrote {folder}/confirm.md, confirm.json and confirm.png")
    return report


def score_runs(folder: Path, plan: ConfirmPlan, console) -> list[dict]:
    """Each finished run at its best validation epoch, scored on the test split once."""
    from kdsearch.results.store import read_results, write_parquet_atomic
    from kdsearch.train.experiment import tensor_split
    from kdsearch.verbs.evaluate import restore_trial

    _, trials, _ = read_results(folder)
    done = pd.read_parquet(folder / EVAL_FILE) if (folder / EVAL_FILE).is_file() else pd.DataFrame()
    rows = [] if done.empty else done.to_dict("records")
    seen = set() if done.empty else set(done["trial_id"])
    for row in trials[trials["status"] == "done"].to_dict("records"):
        if row["trial_id"] in seen:
            continue
        label, seed = row["configuration"], int(row["train.seed"])
        exp = with_overrides(plan.config, {**plan.runs[label], "train.seed": seed})
        trainer, _, dataset, epoch, _ = restore_trial(folder, row["trial_id"], row.get("best_epoch"), exp=exp)
        test = trainer.evaluate(tensor_split(dataset.to_arrays(), "test", torch.device("cpu")), prefix="test_")
        val = {k: row[k] for k in row if k.startswith("best_val_")}
        rows.append({"trial_id": row["trial_id"], "configuration": label, "seed": seed, "epoch": int(epoch),
                     **val, **test})
        console.print(f"  {label} · seed {seed}: epoch {epoch} chosen on valid, scored on test")
    if rows:
        write_parquet_atomic(pd.DataFrame(rows), folder / EVAL_FILE)
    return [{"configuration": r["configuration"], "seed": int(r["seed"]), "epoch": int(r["epoch"]),
             "val": {k[9:]: float(v) for k, v in r.items() if k.startswith("best_val_") and pd.notna(v)},
             "test": {k[5:]: float(v) for k, v in r.items() if k.startswith("test_") and pd.notna(v)}}
            for r in rows if r["configuration"] in plan.runs]


def reference_metrics(plan: ConfirmPlan) -> tuple[dict, dict]:
    """(teacher title -> its test metrics for every teacher the configurations use, chance's)."""
    from kdsearch.data.source import load_for_search
    from kdsearch.spec.kinds import kind_of
    from kdsearch.train.experiment import tensor_split
    from kdsearch.train.teacher_cache import load_teacher_blob, teacher_path
    from kdsearch.train.teachers import teacher_title
    from kdsearch.verbs.confirm_stats import chance_metrics

    dataset = load_for_search(plan.config["data"])
    arrays = dataset.to_arrays()
    test = tensor_split(arrays, "test", torch.device("cpu"))
    teachers: dict[str, dict] = {}
    for overrides in plan.runs.values():
        exp = with_overrides(plan.config, overrides)
        path = teacher_path(exp, dataset.fingerprint)
        if kind_of(exp).needs_teacher(exp) and path.is_file():
            blob = load_teacher_blob(path)
            title = teacher_title({"arch": blob.get("arch", "mult"), **blob.get("config", {})})
            teachers.setdefault(title, evaluate_teacher(blob, test, exp["task"], torch.device("cpu"))[0])
    return teachers, chance_metrics(plan.config["task"], arrays["train/label"], arrays["test/label"])


def evaluate_teacher(blob: dict, split, task_name: str, device) -> tuple[dict[str, float], torch.nn.Module]:
    """(test metrics of a cached teacher on one `TensorSplit`, the teacher built from it)."""
    from kdsearch.train.objectives import run_model
    from kdsearch.train.tasks import get_task
    from kdsearch.train.teachers import build_any_teacher

    teacher = build_any_teacher(blob["config"], dims=blob["dims"], lengths=blob["lengths"], n_out=blob["n_out"])
    teacher.load_state_dict(blob["state_dict"])
    teacher = teacher.to(device).eval()
    with torch.no_grad():
        preds = torch.cat([run_model(teacher, b).logits.float().cpu()
                           for b in split.batches(256, shuffle=False)]).numpy()
    return get_task(task_name).metrics(preds, split.label.cpu().numpy()), teacher


def confirm_command(results_dir: str, *, top: int = 1, seeds: list[int], gpus=None, cpus=None, address=None,
                    console=None) -> int:
    from rich.console import Console

    from kdsearch.search.driver import RunOptions

    console = console or Console()
    plan = plan_from_search(results_dir, top=top, seeds=list(seeds))
    run_plan(plan, Path(results_dir) / CONFIRM_DIR, RunOptions(gpus=gpus, cpus=cpus, address=address), console,
             source=str(results_dir))
    return 0
