"""The edge PNG: a valid file whose pixels are the rendered graphs (decoded here with zlib)."""

import struct
import zlib

import numpy as np
import pytest

from kdsearch.dmd import code_prior, draw_edges_png, edge_matrix, render_edges
from kdsearch.dmd.edge_plot import UNIT_COLORS
from kdsearch.dmd.png import encode_png


def read_png(data: bytes) -> np.ndarray:
    """Decode the subset `encode_png` writes (8-bit RGB, filter 0, one IDAT)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = body
        pos += 12 + length
    width, height, depth, color_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color_type) == (8, 2) and b"IEND" in chunks
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, 1 + 3 * width)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(height, width, 3)


def prior_matrices():
    return {unit: edge_matrix(code_prior(unit)[None]).numpy() for unit in ("homo", "hetero")}


def test_png_round_trips_exactly():
    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    assert np.array_equal(read_png(encode_png(image)), image)


def test_edges_png_holds_both_graphs(tmp_path):
    matrices = prior_matrices()
    path = draw_edges_png(matrices, tmp_path / "plots" / "edges.png", title="trial 3")
    image = read_png(path.read_bytes())
    assert np.array_equal(image, render_edges(matrices, title="trial 3"))
    half = image.shape[1] // 2
    for k, unit in enumerate(("homo", "hetero")):  # each panel draws its strong edges in its colour
        panel = image[:, k * half:(k + 1) * half]
        assert (panel == UNIT_COLORS[unit]).all(axis=-1).sum() > 500


def test_stronger_edges_are_drawn_with_more_ink():
    weak = {"homo": np.full((3, 3), 1 / 6) * (1 - np.eye(3))}
    strong = {"homo": prior_matrices()["homo"]}
    ink = lambda img: (img < 250).any(axis=-1).sum()  # noqa: E731
    colour = lambda img: (img == UNIT_COLORS["homo"]).all(axis=-1).sum()  # noqa: E731
    # Uniform weights: every edge is at the peak, all six fully coloured; priors: two edges.
    assert colour(render_edges(weak)) > colour(render_edges(strong)) > 0
    assert ink(render_edges(strong)) > 0


def test_bad_matrix_shape_is_refused():
    with pytest.raises(ValueError, match="3x3"):
        render_edges({"homo": np.zeros((2, 2))})
