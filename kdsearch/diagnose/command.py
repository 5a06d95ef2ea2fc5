"""`kdsearch diagnose`: where a teacher's (and a student's) attention maps look, with evidence.

Prints one table per model, the teacher's maps ranked by concentration (1 - H/log n, averaged
over rows), and writes a heat-map PNG per map and layer plus ``diagnose.json`` with every number.
When the data carries the planted event steps, the event mass against its uniform share says
whether a concentrated map also looks at the *right* steps — concentration alone cannot.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch

from kdsearch.diagnose.plot import map_filename, map_title, write_heatmap
from kdsearch.diagnose.run import (ModelMaps, build_student_from_blob, build_teacher_from_blob, check_shapes,
                                   collect_maps)
from kdsearch.errors import UserError

JSON_NAME = "diagnose.json"


def teacher_label(path: Path) -> str:
    """The cache key for a cached ``teachers/<key>/teacher.pt``, else the file's stem."""
    return path.parent.name if path.name == "teacher.pt" and path.parent.name else path.stem


def rank_maps(summaries: list[dict]) -> list[dict]:
    """Summaries sorted by concentration, most concentrated first (NaN last), with a "rank"."""
    ordered = sorted(summaries, key=lambda s: -s["concentration"] if not math.isnan(s["concentration"]) else math.inf)
    return [{**s, "rank": i + 1} for i, s in enumerate(ordered)]


def _load_blob(path: Path, what: str) -> dict:
    from kdsearch.train.teacher_cache import load_teacher_blob

    if not path.is_file():
        raise UserError(f"no such {what} checkpoint", file=str(path))
    blob = load_teacher_blob(path)
    if not isinstance(blob, dict):
        raise UserError(f"not a kdsearch {what} checkpoint (a {type(blob).__name__}, expected a dict)", file=str(path))
    return blob


def write_pictures(model_maps: ModelMaps, out_dir: Path) -> dict[tuple[str, int], str]:
    """One PNG per (pair, layer) (and per head when kept); returns file names by (pair, layer)."""
    names = {}
    for acc in model_maps.maps:
        allowed = None if acc.allowed is None else acc.allowed.numpy()
        name = map_filename(model_maps.role, acc.pair, acc.layer)
        write_heatmap(out_dir / name, acc.mean_map().numpy(), allowed, map_title(model_maps.role, acc.pair, acc.layer))
        names[(acc.pair, acc.layer)] = name
        head_maps = acc.head_mean_maps()
        for h in range(0 if head_maps is None else head_maps.shape[0]):
            head_name = map_filename(model_maps.role, acc.pair, acc.layer, h)
            write_heatmap(out_dir / head_name, head_maps[h].numpy(), allowed,
                          map_title(model_maps.role, acc.pair, acc.layer, h))
    return names


def _nan_to_none(value):
    """NaN (e.g. the lift of a map whose rows see no event) as null: strict JSON readers reject NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return value


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _head_cell(head: dict) -> str:
    lift = f" ({_fmt(head['event_lift'], 2)}×)" if "event_lift" in head else ""
    return _fmt(head["concentration"]) + lift


def print_table(console, title: str, ranked: list[dict], has_events: bool) -> None:
    """A rich table of ranked map summaries."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("#", "map", "layer", "T_q×T_k", "entropy", "H/log n", "concentr.", "KL unif",
                "top-k (unif)"):
        table.add_column(col, justify="left" if col == "map" else "right")
    if has_events:
        table.add_column("events (unif)", justify="right")
        table.add_column("lift", justify="right")
        table.add_column("±1 step (unif)", justify="right")
        table.add_column("lift ±1", justify="right")
    table.add_column("peak steps", justify="right")
    per_head = any("per_head" in s for s in ranked)
    if per_head:
        table.add_column("per head concentr." + (" (lift)" if has_events else ""), justify="right")
    for s in ranked:
        row = [str(s["rank"]), s["pair"], str(s["layer"]), f"{s['t_q']}×{s['t_k']}", _fmt(s["entropy"]),
               _fmt(s["normalised_entropy"]), _fmt(s["concentration"]), _fmt(s["kl_uniform"]),
               f"{_fmt(s['top_k_mass'])} ({_fmt(s['top_k_uniform'])})"]
        if has_events:
            if "event_mass" in s:
                row += [f"{_fmt(s['event_mass'])} ({_fmt(s['event_uniform'])})", f"{_fmt(s['event_lift'], 2)}×",
                        f"{_fmt(s['near_event_mass'])} ({_fmt(s['near_event_uniform'])})",
                        f"{_fmt(s['near_event_lift'], 2)}×"]
            else:
                row += ["-", "-", "-", "-"]
        row.append(",".join(str(k) for k in s["peak_steps"]))
        if per_head:
            row.append(" ".join(_head_cell(h) for h in s.get("per_head", [])))
        table.add_row(*row)
    console.print(table)


def diagnose_command(teacher_path, data_path, split: str = "valid", out_dir=None, student_path=None,
                     max_samples: int | None = None, *, per_head: bool = False, console=None) -> int:
    """Diagnose a teacher's (and optionally a student's) attention maps on one split.

    Args:
        teacher_path: a teacher checkpoint (``teachers/<key>/teacher.pt`` of the cache).
        data_path: a dataset file in kdsearch's HDF5 layout.
        split: "train", "valid" or "test".
        out_dir: where the PNGs and ``diagnose.json`` go; default ``diagnose-<teacher key>/``.
        student_path: optional student checkpoint (see `build_student_from_blob` for its format).
        max_samples: diagnose only the first N samples of the split.
        per_head: also report (and draw) each head, not only the head-averaged map.
        console: a rich Console (default: a new one).

    Returns:
        0 on success.

    Raises:
        UserError: bad paths, checkpoints or options; DataError for a dataset that does not fit.
    """
    from rich.console import Console

    from kdsearch.data.layout import load_dataset

    console = console or Console()
    if max_samples is not None and max_samples < 1:
        raise UserError(f"must be at least 1, got {max_samples}", field="--max-samples")
    started = time.perf_counter()
    teacher_path = Path(teacher_path)
    blob = _load_blob(teacher_path, "teacher")
    teacher = build_teacher_from_blob(blob, str(teacher_path))
    dataset = load_dataset(data_path, splits=(split,))
    arrays = dataset.splits[split]
    check_shapes(arrays, blob, str(data_path), split)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    options = dict(lengths=blob["lengths"], max_samples=max_samples, per_head=per_head, device=device)
    models = [collect_maps(teacher, "teacher", arrays, **options)]
    if student_path is not None:
        student_blob = _load_blob(Path(student_path), "student")
        student = build_student_from_blob(student_blob, str(student_path), blob)
        models.append(collect_maps(student, "student", arrays, **options))

    key = teacher_label(teacher_path)
    out = Path(out_dir) if out_dir is not None else Path.cwd() / f"diagnose-{key}"
    out.mkdir(parents=True, exist_ok=True)
    report = {"teacher": {"path": str(teacher_path), "key": key, "config": blob.get("config"),
                          "val_metrics": blob.get("val_metrics")},
              "student": None if student_path is None else {"path": str(student_path)},
              "data": {"path": str(data_path), "split": split, "samples": models[0].maps[0].samples},
              "temperature": 1.0, "maps": {}}
    for model_maps in models:
        pictures = write_pictures(model_maps, out)
        ranked = rank_maps([{**acc.summary(), "png": pictures[(acc.pair, acc.layer)]} for acc in model_maps.maps])
        has_events = any("event_mass" in s for s in ranked)
        report["maps"][model_maps.role] = ranked
        print_table(console, f"{model_maps.role} {key if model_maps.role == 'teacher' else student_path} · "
                             f"{split} · {report['data']['samples']} samples · {model_maps.heads} heads averaged · "
                             f"ranked by concentration (1 - H/log n)", ranked, has_events)
        if has_events:
            for kind, words in (("event", "the true event steps"), ("near_event", "the event steps ±1")):
                with_lift = [s for s in ranked if not math.isnan(s.get(f"{kind}_lift", math.nan))]
                best = sorted(with_lift, key=lambda s: -s[f"{kind}_lift"])[:3]
                console.print(f"  most mass on {words} (lift over uniform): " + ", ".join(
                    f"{s['pair']} layer {s['layer']} {s[f'{kind}_mass']:.2f} vs {s[f'{kind}_uniform']:.2f} "
                    f"({s[f'{kind}_lift']:.2f}×)" for s in best))
    report["ranking"] = [f"{s['pair']}/{s['layer']}" for s in report["maps"]["teacher"]]
    report["seconds"] = round(time.perf_counter() - started, 2)
    (out / JSON_NAME).write_text(json.dumps(_nan_to_none(report), indent=2, default=str, allow_nan=False))
    console.print(f"Heat-maps and {JSON_NAME} in {out} ({report['seconds']:.1f}s)")
    return 0
