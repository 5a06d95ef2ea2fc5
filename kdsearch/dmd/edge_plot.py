"""Draw the learned GD-Unit edges as paper 003's Fig. 5 does: one directed graph per unit.

Input is what `DMDObjective.edge_matrices` returns: {"homo": M, "hetero": M}, M[i, j] the mean
weight of edge i -> j (i distils into j) in L, A, V order. Each panel shows the three modality
nodes and the six edges; an edge's thickness and colour grow with its weight *relative to the
panel's strongest edge* (a colour scale per panel, so a near-uniform graph looks uniformly strong)
and its absolute weight is written beside it. Drawn with the numpy canvas in `kdsearch.dmd.png`
(no matplotlib in the venv).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from kdsearch.dmd.png import Canvas, Color, encode_png
from kdsearch.models.crossmodal import MODALITIES

PANEL_W, PANEL_H, FOOTER_H = 380, 380, 40
NODE_RADIUS = 30
NODE_XY = {"L": (190.0, 110.0), "V": (70.0, 310.0), "A": (310.0, 310.0)}  # L on top, as a triangle
TITLES = {"homo": "HOMOGD", "hetero": "HETEROGD"}
UNIT_COLORS: dict[str, Color] = {"homo": (178, 34, 34), "hetero": (31, 78, 160)}
FAINT: Color = (222, 222, 222)
INK: Color = (40, 40, 40)


def _mix(low: Color, high: Color, t: float) -> Color:
    return tuple(int(round(a + (b - a) * t)) for a, b in zip(low, high))  # type: ignore[return-value]


def _draw_edge(canvas: Canvas, x0: float, src: str, dst: str, weight: float, strength: float, color: Color) -> None:
    (ax, ay), (bx, by) = NODE_XY[src], NODE_XY[dst]
    dx, dy = bx - ax, by - ay
    length = math.hypot(dx, dy)
    ux, uy = dx / length, dy / length
    nx, ny = -uy, ux  # the two directions of a pair sit on opposite sides of the axis
    offset, gap, head = 9.0, NODE_RADIUS + 4.0, 16.0
    sx, sy = x0 + ax + ux * gap + nx * offset, ay + uy * gap + ny * offset
    ex, ey = x0 + bx - ux * gap + nx * offset, by - uy * gap + ny * offset
    shade = _mix(FAINT, color, strength)
    canvas.line(sx, sy, ex - ux * (head - 2), ey - uy * (head - 2), 1.5 + 9.0 * strength, shade)
    half = 5.0 + 5.0 * strength
    canvas.triangle([(ex, ey), (ex - ux * head + nx * half, ey - uy * head + ny * half),
                     (ex - ux * head - nx * half, ey - uy * head - ny * half)], shade)
    mx, my = (sx + ex) / 2 + nx * 24.0, (sy + ey) / 2 + ny * 24.0
    canvas.text(mx, my, f"{weight:.2f}", INK, scale=2)


def _draw_panel(canvas: Canvas, x0: float, unit: str, matrix: np.ndarray) -> None:
    canvas.text(x0 + PANEL_W / 2, 28, TITLES.get(unit, unit.upper()), INK, scale=3)
    index = {m: k for k, m in enumerate(MODALITIES)}
    peak = float(matrix.max()) or 1.0
    for src in MODALITIES:
        for dst in MODALITIES:
            if src != dst:
                weight = float(matrix[index[src], index[dst]])
                _draw_edge(canvas, x0, src, dst, weight, max(weight, 0.0) / peak, UNIT_COLORS.get(unit, INK))
    for name, (x, y) in NODE_XY.items():
        canvas.disc(x0 + x, y, NODE_RADIUS, INK)
        canvas.text(x0 + x, y, name, (255, 255, 255), scale=4)


def render_edges(matrices: Mapping[str, np.ndarray], title: str | None = None) -> np.ndarray:
    """(H, W, 3) uint8 image: one graph panel per unit, in the mapping's order.

    Args:
        matrices: unit name ("homo", "hetero") -> (3, 3) edge-weight matrix, rows = source.
        title: optional line drawn under the panels (e.g. the trial id).
    """
    for unit, matrix in matrices.items():
        if np.shape(matrix) != (3, 3):
            raise ValueError(f"edge matrix {unit!r} must be 3x3, got {np.shape(matrix)}")
    canvas = Canvas(PANEL_W * max(len(matrices), 1), PANEL_H + FOOTER_H)
    for k, (unit, matrix) in enumerate(matrices.items()):
        _draw_panel(canvas, k * PANEL_W, unit, np.asarray(matrix, dtype=float))
    footer = "EDGE I -> J: I DISTILS INTO J" + (f"   {title}" if title else "")
    canvas.text(10, PANEL_H + 12, footer, INK, scale=2, anchor="topleft")
    return canvas.image


def draw_edges_png(matrices: Mapping[str, np.ndarray], path: str | Path, title: str | None = None) -> Path:
    """Write `render_edges(matrices, title)` to `path` as a PNG; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(render_edges(matrices, title)))
    return path
