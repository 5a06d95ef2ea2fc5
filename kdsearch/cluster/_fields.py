"""Field paths for messages: `available_node_types.gpu_spot.resources.GPU`, `spec.x[0].y`."""

from __future__ import annotations

from typing import Iterable


def dotted(parts: Iterable[object]) -> str:
    """Join keys with dots, list indices as `[i]` and dotted keys as `["a.b"]`, as users read YAML."""
    out = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif "." in str(part):  # `nvidia.com/gpu` would read as three keys
            out += f'["{part}"]'
        else:
            out += f".{part}" if out else str(part)
    return out
