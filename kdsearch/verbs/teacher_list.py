"""`kdsearch teacher list`: what the teacher cache holds, newest first."""

from __future__ import annotations

import json
import time

from rich.console import Console
from rich.table import Table

from kdsearch.train.teacher_cache import cache_root


def cached_teachers() -> list[dict]:
    rows = []
    for meta_file in (cache_root() / "teachers").glob("*/meta.json"):
        try:
            meta = json.loads(meta_file.read_text())
        except (OSError, json.JSONDecodeError):
            meta = {}
        weights = meta_file.parent / "teacher.pt"
        rows.append({"key": meta_file.parent.name, "meta": meta, "path": str(weights),
                     "mtime": weights.stat().st_mtime if weights.exists() else 0.0})
    return sorted(rows, key=lambda r: r["mtime"], reverse=True)


def teacher_list_command() -> int:
    import sys

    # Piped or redirected: wide enough that no column (the file path above all) is cut.
    console = Console() if sys.stdout.isatty() else Console(width=400)
    rows = cached_teachers()
    if not rows:
        console.print(f"No cached teachers in {cache_root() / 'teachers'}")
        return 0
    table = Table(title=f"Cached teachers ({cache_root() / 'teachers'})")
    for col in ("key", "branch", "task", "dataset", "d/heads/layers", "val metrics", "trained"):
        table.add_column(col)
    table.add_column("file", overflow="fold")  # folded, never truncated: it is to be copied
    for row in rows:
        meta = row["meta"]
        cfg = meta.get("config", {})
        metrics = ", ".join(f"{k[4:]}={v:.3f}" for k, v in meta.get("val_metrics", {}).items()
                            if k.startswith("val_") and k != "val_loss")
        table.add_row(row["key"], str(cfg.get("branch", "?")), str(meta.get("task", "?")),
                      str(meta.get("fingerprint", "?"))[:12],
                      f"{cfg.get('d_model', '?')}/{cfg.get('heads', '?')}/{cfg.get('layers', '?')}", metrics,
                      time.strftime("%Y-%m-%d %H:%M", time.localtime(row["mtime"])), row["path"])
    console.print(table)
    return 0
