"""Field paths for messages: `available_node_types.gpu_spot.resources.GPU`, `spec.workerGroupSpecs[0]`."""

from __future__ import annotations

from typing import Iterable


def dotted(parts: Iterable[object]) -> str:
    """Join mapping keys with dots and list indices as `[i]`, the way users read YAML paths."""
    out = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
