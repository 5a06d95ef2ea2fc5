"""A tiny RGB raster canvas and PNG encoder (numpy + zlib), so plots need no matplotlib.

Enough for diagrams: rectangles, discs, thick line segments, filled triangles and bitmap text.
Shapes are drawn by testing pixel centres inside each shape's bounding box (no anti-aliasing).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from kdsearch.dmd.bitmap_font import text_mask

Color = tuple[int, int, int]


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 RGB image (8-bit truecolour, filter 0 on every row)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    height, width, _ = image.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, width * 3)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
            + chunk(b"IEND", b""))


class Canvas:
    """An (height, width) RGB image with a few filled primitives; coordinates are (x, y) pixels."""

    def __init__(self, width: int, height: int, background: Color = (255, 255, 255)):
        self.image = np.empty((height, width, 3), dtype=np.uint8)
        self.image[:] = background

    def _box(self, x0: float, y0: float, x1: float, y1: float):
        """Clipped integer bounding box and the pixel-centre grids inside it, or None if empty."""
        h, w, _ = self.image.shape
        left, top = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
        right, bottom = min(int(np.ceil(x1)) + 1, w), min(int(np.ceil(y1)) + 1, h)
        if left >= right or top >= bottom:
            return None
        ys, xs = np.mgrid[top:bottom, left:right]
        return (slice(top, bottom), slice(left, right)), xs + 0.5, ys + 0.5

    def _paint(self, box, inside: np.ndarray, color: Color) -> None:
        region = self.image[box]
        region[inside] = color

    def rect(self, x0: float, y0: float, x1: float, y1: float, color: Color) -> None:
        found = self._box(x0, y0, x1 - 1, y1 - 1)
        if found:
            box, xs, _ = found
            self._paint(box, np.ones(xs.shape, bool), color)

    def disc(self, cx: float, cy: float, radius: float, color: Color) -> None:
        found = self._box(cx - radius, cy - radius, cx + radius, cy + radius)
        if found:
            box, xs, ys = found
            self._paint(box, (xs - cx) ** 2 + (ys - cy) ** 2 <= radius**2, color)

    def line(self, x0: float, y0: float, x1: float, y1: float, width: float, color: Color) -> None:
        """A segment of thickness `width` (pixels within width/2 of it), round caps."""
        r = width / 2
        found = self._box(min(x0, x1) - r, min(y0, y1) - r, max(x0, x1) + r, max(y0, y1) + r)
        if not found:
            return
        box, xs, ys = found
        dx, dy = x1 - x0, y1 - y0
        length2 = dx * dx + dy * dy or 1.0
        t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / length2, 0.0, 1.0)
        self._paint(box, (xs - x0 - t * dx) ** 2 + (ys - y0 - t * dy) ** 2 <= r * r, color)

    def triangle(self, points: list[tuple[float, float]], color: Color) -> None:
        (ax, ay), (bx, by), (cx, cy) = points
        found = self._box(min(ax, bx, cx), min(ay, by, cy), max(ax, bx, cx), max(ay, by, cy))
        if not found:
            return
        box, xs, ys = found
        sides = [(x1 - x0) * (ys - y0) - (y1 - y0) * (xs - x0)
                 for (x0, y0), (x1, y1) in (((ax, ay), (bx, by)), ((bx, by), (cx, cy)), ((cx, cy), (ax, ay)))]
        inside = ((sides[0] >= 0) & (sides[1] >= 0) & (sides[2] >= 0)) | (
            (sides[0] <= 0) & (sides[1] <= 0) & (sides[2] <= 0))
        self._paint(box, inside, color)

    def text(self, x: float, y: float, text: str, color: Color, scale: int = 2, anchor: str = "center") -> None:
        """Bitmap text; (x, y) is its centre ("center") or its top-left corner ("topleft")."""
        mask = text_mask(text, scale)
        h, w = mask.shape
        left, top = (int(round(x - w / 2)), int(round(y - h / 2))) if anchor == "center" else (int(x), int(y))
        found = self._box(left, top, left + w - 1, top + h - 1)
        if found:
            box, _, _ = found
            rows, cols = box
            self._paint(box, mask[rows.start - top:rows.stop - top, cols.start - left:cols.stop - left], color)

    def save(self, path: str | Path) -> Path:
        """Write the canvas as a PNG file; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode_png(self.image))
        return path
