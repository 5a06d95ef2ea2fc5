"""Helpers of the fault tests: tiny space files, and finding this test's own processes."""

from __future__ import annotations

from pathlib import Path

import yaml


def space_dict(name: str, data: Path, *, epochs: int = 2, params: dict | None = None, **search) -> dict:
    """A tiny no-KD search over `params` (default: the learning rate)."""
    return {
        "name": name,
        "data": {"path": str(data)},
        "student": {"config": 5, "d_model": 8, "heads": 2, "layers": 1},
        "loss": {"alpha": 1.0, "beta": 0.0},
        "train": {"epochs": epochs, "batch_size": 64, "lr": 3.0e-3},
        "params": params or {"train.lr": {"type": "float", "low": 1.0e-3, "high": 1.0e-2, "log": True}},
        "search": {"num_samples": 2, "scheduler": {"name": "fifo"}, "sampler": {"name": "random", "seed": 0},
                   **search},
        "resources": {"cpus_per_trial": 1, "gpus_per_trial": 0},
    }


def write_space(folder: Path, raw: dict) -> Path:
    path = Path(folder) / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (from /proc: psutil is not a dependency)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name in field 2 may hold spaces and parentheses: split after its last ")".
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # ended while we looked
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def cmdline(pid: int) -> str:
    """The process's command line as shown by ps ('' if it has ended)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""
