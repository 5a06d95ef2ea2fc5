"""Draw the learned GD-Unit edges as paper 003's Fig. 5 does: one directed graph per unit.

Input is what `DMDObjective.edge_matrices` returns: {"homo": M, "hetero": M}, M[i, j] the mean
weight of edge i -> j (i distils into j) in L, A, V order; a unit's six weights sum to 1. Each
panel shows the three modality nodes and the six edges; an edge's width and colour grow with its
weight and the weight is written on it. Both panels share one colour scale (and one colour
bar), so the two units compare at a glance; the bar marks uniform routing (1/6 per edge).

matplotlib is imported inside the functions: `kdsearch.dmd` is imported by every DMD training
worker, which never draws, and should not pay matplotlib's import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kdsearch.models.crossmodal import MODALITIES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NODE_XY = {"L": (0.0, 0.9), "V": (-0.95, -0.65), "A": (0.95, -0.65)}  # L on top, as in the paper
NODE_RADIUS = 0.24
MODALITY_NAMES = {"L": "language", "A": "audio", "V": "vision"}
PANEL_TITLES = {
    "homo": "HomoGD (homogeneous unit)\nshared, modality-irrelevant features",
    "hetero": "HeteroGD (heterogeneous unit)\nmodality-specific features",
}
CMAP = "viridis_r"  # dark = heavy edge; light but still visible on white = light edge
MIN_WIDTH, MAX_WIDTH = 1.0, 9.0  # line widths in points of the lightest and heaviest edge
CURVE = 0.25  # arc3 bend: i -> j and j -> i bow to opposite sides instead of overlapping


def edge_gid(unit: str, src: str, dst: str) -> str:
    """The artist id of edge src -> dst of `unit` ("homo:L->A"), so tests and tools can find it."""
    return f"{unit}:{src}->{dst}"


def _check(matrices: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for unit, matrix in matrices.items():
        if np.shape(matrix) != (3, 3):
            raise ValueError(f"edge matrix {unit!r} must be 3x3, got {np.shape(matrix)}")
        out[unit] = np.asarray(matrix, dtype=float)
    if not out:
        raise ValueError("no edge matrices to draw")
    return out


def _scale_top(matrices: dict[str, np.ndarray]) -> float:
    """Top of the shared colour scale: the heaviest edge, never below uniform (1/6)."""
    return max(1 / 6, *(float(m.max()) for m in matrices.values()))


def _draw_panel(ax, unit: str, matrix: np.ndarray, norm, cmap) -> None:
    from matplotlib.patches import Circle, FancyArrowPatch

    index = {m: k for k, m in enumerate(MODALITIES)}
    nodes = {}
    for name, (x, y) in NODE_XY.items():
        nodes[name] = Circle((x, y), NODE_RADIUS, facecolor="#333333", edgecolor="white", zorder=3)
        ax.add_patch(nodes[name])
        ax.text(x, y + 0.03, name, color="white", fontsize=16, fontweight="bold", ha="center", va="center", zorder=4)
        ax.text(x, y - 0.09, MODALITY_NAMES[name], color="white", fontsize=6.5, ha="center", va="center", zorder=4)
    for src in MODALITIES:
        for dst in MODALITIES:
            if src == dst:
                continue
            weight = float(matrix[index[src], index[dst]])
            strength = float(np.clip(norm(weight), 0.0, 1.0))
            colour = cmap(strength)
            arrow = FancyArrowPatch(
                NODE_XY[src], NODE_XY[dst], patchA=nodes[src], patchB=nodes[dst], shrinkA=3, shrinkB=3,
                connectionstyle=f"arc3,rad={CURVE}", arrowstyle="-|>,head_length=0.6,head_width=0.35",
                mutation_scale=12 + 10 * strength, linewidth=MIN_WIDTH + (MAX_WIDTH - MIN_WIDTH) * strength,
                color=colour, zorder=2, gid=edge_gid(unit, src, dst))
            ax.add_patch(arrow)
            # The label sits on its own arc (the arc3 curve passes mid + CURVE/2 * (dy, -dx)): beside
            # it, the labels of the inner arcs would crowd the triangle's middle and read ambiguously.
            (x0, y0), (x1, y1) = NODE_XY[src], NODE_XY[dst]
            lx, ly = (x0 + x1) / 2 + CURVE / 2 * (y1 - y0), (y0 + y1) / 2 - CURVE / 2 * (x1 - x0)
            ax.text(lx, ly, f"{weight:.2f}", fontsize=9, ha="center", va="center", zorder=5, gid=arrow.get_gid(),
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.85))
    ax.set_title(PANEL_TITLES.get(unit, unit), fontsize=10)
    ax.set_xlim(-1.45, 1.45)
    ax.set_ylim(-1.2, 1.35)
    ax.set_aspect("equal")
    ax.set_axis_off()


def render_edges(matrices: Mapping[str, np.ndarray], title: str | None = None) -> Figure:
    """A matplotlib Figure (not attached to pyplot): one graph panel per unit, in the mapping's order.

    Args:
        matrices: unit name ("homo", "hetero") -> (3, 3) edge-weight matrix, rows = source.
        title: optional context for the figure title (e.g. "trial 3, epoch 12").
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    matrices = _check(matrices)
    norm, cmap = Normalize(0.0, _scale_top(matrices)), colormaps[CMAP]
    fig = Figure(figsize=(4.2 * len(matrices) + 1.2, 5.0), dpi=110, layout="constrained")
    axes = fig.subplots(1, len(matrices), squeeze=False)[0]
    for ax, (unit, matrix) in zip(axes, matrices.items()):
        _draw_panel(ax, unit, matrix, norm, cmap)
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=list(axes), shrink=0.8, pad=0.02)
    bar.set_label("edge weight: share of the unit's distillation\n(mean over samples; a unit's six edges sum to 1)")
    bar.ax.axhline(1 / 6, color="red", linewidth=1.5)
    bar.ax.text(-0.15, 1 / 6, "uniform\n(1/6)", transform=bar.ax.get_yaxis_transform(), fontsize=7,
                color="red", va="center", ha="right", clip_on=False)
    heading = "DMD learned graph-distillation edges" + (f" — {title}" if title else "")
    fig.suptitle(f"{heading}\narrow i → j: modality i distils into modality j; "
                 "width and colour grow with the weight written on it", fontsize=10)
    return fig


def draw_edges_png(matrices: Mapping[str, np.ndarray], path: str | Path, title: str | None = None) -> Path:
    """Write `render_edges(matrices, title)` to `path` as a PNG (Agg, no display); returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = render_edges(matrices, title)
    FigureCanvasAgg(fig).print_png(str(path))
    return path
