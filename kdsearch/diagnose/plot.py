"""Heat-maps of mean attention maps, drawn with matplotlib (Agg, no pyplot state).

The top panel is the (T_q, T_k) map: rows are queries (top = first step), columns are keys
(left = first step), masked cells grey. The panel under it is the mass profile over key
positions (where the mass sits over time): mean mass per key over the queries, with the mass
uniform attention would put there drawn as a dashed line.

Colours show mass *relative to uniform attention* on one fixed log scale, so pictures of
different maps compare directly: a cell's lift is p * n_allowed(row) (1 = uniform); log2 lift
from -3 to +3 spans viridis, so uniform is the middle teal, 8x uniform or more full yellow,
1/8 or less dark blue. A uniform map is flat teal, never a misleadingly saturated picture.
The profile bars use the same scale, their lift taken against the uniform profile.

matplotlib is imported inside the functions so that importing `kdsearch.diagnose` stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LOG2_SPAN = 3.0  # colours cover lifts 1/8 .. 8 over uniform
CMAP = "viridis"
MASKED_GREY = "0.6"
COLOUR_LABEL = "attention mass ÷ mass under uniform attention\n(log₂ scale, clipped at 1/8× and 8×)"


class Lift(NamedTuple):
    """What the heat-map draws, computed without matplotlib."""

    log2_cells: np.ma.MaskedArray  # (T_q, T_k) log2 lift clipped to ±LOG2_SPAN, masked cells masked
    profile: np.ndarray  # (T_k,) mean mass per key over the queries
    uniform_profile: np.ndarray  # (T_k,) the same under uniform attention over the allowed keys
    log2_profile: np.ndarray  # (T_k,) log2(profile / uniform_profile), clipped like the cells


def _log2_clipped(lift: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):  # zero mass is -inf, clipped to the bottom of the scale
        return np.clip(np.log2(np.maximum(lift, 0.0)), -LOG2_SPAN, LOG2_SPAN)


def lift_of(mean_map: np.ndarray, allowed: np.ndarray | None = None) -> Lift:
    """The lifts over uniform of a (T_q, T_k) map's cells and of its key profile.

    Args:
        mean_map: (T_q, T_k) mean attention probabilities (rows sum to 1 over allowed keys).
        allowed: (T_q, T_k) bool mask, True where attention is allowed; None = all allowed.
    """
    mean_map = np.asarray(mean_map, dtype=np.float64)
    ok = np.ones_like(mean_map, dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    n_row = np.maximum(ok.sum(axis=1, keepdims=True), 1)
    cells = np.ma.masked_array(_log2_clipped(mean_map * n_row), mask=~ok)
    profile = mean_map.mean(axis=0)
    uniform_profile = (ok / n_row).mean(axis=0)
    log2_profile = _log2_clipped(profile / np.maximum(uniform_profile, 1e-12))
    return Lift(cells, profile, uniform_profile, log2_profile)


def heatmap_figure(mean_map: np.ndarray, allowed: np.ndarray | None = None, title: str | None = None) -> Figure:
    """A matplotlib Figure of the map's lift over uniform (top) and its key profile (bottom)."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    lift = lift_of(mean_map, allowed)
    t_q, t_k = lift.log2_cells.shape
    cmap, norm = colormaps[CMAP].with_extremes(bad=MASKED_GREY), Normalize(-LOG2_SPAN, LOG2_SPAN)
    # Fixed axes rectangles, not a layout engine: the figure size and labels never change, and
    # diagnose writes one picture per map, layer and head, where constrained layout doubles the time.
    fig = Figure(figsize=(6.4, 6.4), dpi=100)
    ax_map = fig.add_axes((0.15, 0.34, 0.6, 0.56))
    ax_profile = fig.add_axes((0.15, 0.08, 0.6, 0.2), sharex=ax_map)
    ax_map.tick_params(labelbottom=False)
    image = ax_map.imshow(lift.log2_cells, cmap=cmap, norm=norm, aspect="auto", interpolation="nearest",
                          extent=(-0.5, t_k - 0.5, t_q - 0.5, -0.5))
    ax_map.set_ylabel("query position")
    ax_map.set_title(f"{title or 'mean attention map'}\nwhere the attention mass sits, relative to uniform attention",
                     fontsize=10)
    for axis in (ax_map.xaxis, ax_map.yaxis, ax_profile.xaxis):  # positions are whole time steps
        axis.set_major_locator(MaxNLocator(integer=True))
    bar = fig.colorbar(image, cax=fig.add_axes((0.8, 0.08, 0.035, 0.82)))
    ticks = np.arange(-LOG2_SPAN, LOG2_SPAN + 1)
    bar.set_ticks(ticks, labels=[f"{2.0 ** t:g}×" if t >= 0 else f"1/{2.0 ** -t:g}×" for t in ticks])
    bar.set_label(COLOUR_LABEL)
    keys = np.arange(t_k)
    ax_profile.bar(keys, lift.profile, width=0.9, color=cmap(norm(lift.log2_profile)))
    ax_profile.step(keys, lift.uniform_profile, where="mid", color="black", linestyle="--", linewidth=1)
    ax_profile.set_xlabel("key position (time step)")
    ax_profile.set_ylabel("mean mass\nper key")
    ax_profile.set_xlim(-0.5, t_k - 0.5)
    ax_profile.set_ylim(0, 1.4 * max(lift.profile.max(), lift.uniform_profile.max(), 1e-12))  # room for the legend
    handles = [Line2D([], [], color="black", linestyle="--", label="uniform attention")]
    if np.ma.count_masked(lift.log2_cells):
        handles.append(Patch(color=MASKED_GREY, label="masked (not allowed)"))
    ax_profile.legend(handles=handles, fontsize=7, loc="upper right", framealpha=0.8)
    return fig


def write_heatmap(path: str | Path, mean_map: np.ndarray, allowed: np.ndarray | None = None,
                  title: str | None = None) -> Path:
    """Write `heatmap_figure(mean_map, allowed, title)` as a PNG file and return its path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    FigureCanvasAgg(heatmap_figure(mean_map, allowed, title)).print_png(str(path))
    return path


def map_title(role: str, pair: str, layer: int, head: int | None = None) -> str:
    """Heat-map title: "teacher V<-A, layer 0 (heads averaged)" or "... layer 0, head 2"."""
    return f"{role} {pair}, layer {layer}" + (f", head {head}" if head is not None else " (heads averaged)")


def map_filename(role: str, pair: str, layer: int, head: int | None = None) -> str:
    """File name of a map's heat-map: "teacher_V_from_A_layer0.png" for pair "V<-A" (query A)."""
    name = f"{role}_{pair.replace('<-', '_from_')}_layer{layer}"
    return f"{name}_head{head}.png" if head is not None else f"{name}.png"
