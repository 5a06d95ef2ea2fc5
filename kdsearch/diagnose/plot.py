"""Small PNG heat-maps of mean attention maps, written with numpy + zlib (no plotting library).

matplotlib is not a dependency of kdsearch, and a heat-map needs none: each map cell becomes a
square of pixels coloured by a viridis-like ramp, masked cells grey, and a strip under the map
shows the mass profile over key positions (where the mass sits over time). Rows are queries
(top = first step), columns are keys (left = first step).

Colours show mass *relative to uniform attention* on one fixed log scale, so pictures of
different maps compare directly: a cell's lift is p * n_allowed(row) (1 = uniform); log2 lift
from -3 to +3 spans the ramp, so uniform is the middle teal, 8x uniform or more full yellow,
1/8 or less dark blue. A uniform map is flat teal, never a misleadingly saturated picture.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Anchor colours of a perceptually ordered dark-blue -> green -> yellow ramp (viridis' ends).
_RAMP = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float64)
_MASKED = np.array([150, 150, 150], dtype=np.uint8)
_GAP = np.array([255, 255, 255], dtype=np.uint8)
_TARGET_PIXELS = 160  # the longer side of a small map is scaled up to about this
LOG2_SPAN = 3.0  # colours cover lifts 1/8 .. 8 over uniform


def colorize(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] (clipped) to RGB uint8 along the ramp; shape (..., 3)."""
    x = np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0) * (len(_RAMP) - 1)
    low = np.minimum(np.floor(x).astype(int), len(_RAMP) - 2)
    frac = (x - low)[..., None]
    return np.round(_RAMP[low] * (1 - frac) + _RAMP[low + 1] * frac).astype(np.uint8)


def lift_colours(lift: np.ndarray) -> np.ndarray:
    """RGB for lifts (mass / uniform mass) on the fixed log2 scale [-LOG2_SPAN, +LOG2_SPAN]."""
    with np.errstate(divide="ignore"):
        log_lift = np.log2(np.maximum(lift, 0.0))
    return colorize((np.clip(log_lift, -LOG2_SPAN, LOG2_SPAN) + LOG2_SPAN) / (2 * LOG2_SPAN))


def heatmap_image(mean_map: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """RGB image (H, W, 3) of a (T_q, T_k) map's lift over uniform, plus a profile strip.

    Args:
        mean_map: (T_q, T_k) mean attention probabilities (rows sum to 1 over allowed keys).
        allowed: (T_q, T_k) bool mask, True where attention is allowed; masked cells are grey.
    """
    mean_map = np.asarray(mean_map, dtype=np.float64)
    t_q, t_k = mean_map.shape
    ok = np.ones_like(mean_map, dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    n_row = ok.sum(axis=1, keepdims=True)
    cells = lift_colours(mean_map * n_row)
    cells[~ok] = _MASKED
    uniform_profile = (ok / n_row).mean(axis=0)
    strip = lift_colours(mean_map.mean(axis=0) / np.maximum(uniform_profile, 1e-12))[None, :, :]
    cell = max(1, _TARGET_PIXELS // max(t_q, t_k))
    body = np.repeat(np.repeat(cells, cell, axis=0), cell, axis=1)
    strip_px = np.repeat(np.repeat(strip, max(4, 2 * cell), axis=0), cell, axis=1)
    gap = np.broadcast_to(_GAP, (max(2, cell // 2), body.shape[1], 3))
    return np.concatenate([body, gap, strip_px], axis=0)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 image: 8-bit truecolour, no interlace, filter 0 per row."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"expected a non-empty (H, W, 3) image, got shape {rgb.shape}")
    height, width, _ = rgb.shape
    raw = np.concatenate([np.zeros((height, 1), dtype=np.uint8), rgb.reshape(height, width * 3)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw.tobytes(), 9))
            + _chunk(b"IEND", b""))


def write_heatmap(path: str | Path, mean_map: np.ndarray, allowed: np.ndarray | None = None) -> Path:
    """Write `heatmap_image(mean_map, allowed)` as a PNG file and return its path."""
    path = Path(path)
    path.write_bytes(encode_png(heatmap_image(mean_map, allowed)))
    return path


def map_filename(role: str, pair: str, layer: int, head: int | None = None) -> str:
    """File name of a map's heat-map: "teacher_V_from_A_layer0.png" for pair "V<-A" (query A)."""
    name = f"{role}_{pair.replace('<-', '_from_')}_layer{layer}"
    return f"{name}_head{head}.png" if head is not None else f"{name}.png"
