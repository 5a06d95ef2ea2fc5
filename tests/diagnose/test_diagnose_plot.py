"""The pure-numpy PNG writer produces valid PNGs, and colours mean what the legend says."""

import struct
import zlib

import numpy as np

from kdsearch.diagnose.plot import PNG_SIGNATURE, encode_png, heatmap_image, map_filename, write_heatmap
from kdsearch.models.masks import mult_mask_rule


def decode_png(data: bytes) -> np.ndarray:
    """A minimal reader for what encode_png writes (checks every CRC)."""
    assert data[:8] == PNG_SIGNATURE
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, colour) == (8, 2) and b"IEND" in chunks
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), dtype=np.uint8).reshape(height, 1 + 3 * width)
    assert (raw[:, 0] == 0).all()  # filter type 0 on every row
    return raw[:, 1:].reshape(height, width, 3)


def test_png_round_trip(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    assert np.array_equal(decode_png(encode_png(image)), image)


def test_uniform_map_is_one_flat_colour_and_mask_is_grey(tmp_path):
    allowed = mult_mask_rule(6, 6).numpy()
    uniform = allowed / allowed.sum(axis=1, keepdims=True)
    path = write_heatmap(tmp_path / "u.png", uniform, allowed)
    image = decode_png(path.read_bytes())
    cell = 160 // 6
    assert image.shape[1] == 6 * cell
    body = image[:6 * cell].reshape(6, cell, 6, cell, 3)[:, 0, :, 0]  # one pixel per map cell
    assert (body[~allowed] == 150).all()
    colours = {tuple(c) for c in body[allowed]}
    assert len(colours) == 1  # uniform attention: the same (middle) colour everywhere allowed


def test_concentrated_cell_is_brighter_than_uniform():
    p = np.full((2, 8), 1 / 8)
    p[0] = 0.0
    p[0, 3] = 1.0  # 8x uniform: top of the scale
    image = heatmap_image(p)
    cell = 160 // 8
    hot, flat = image[0, 3 * cell], image[cell, 0]
    assert hot.tolist() == [253, 231, 37] and flat.tolist() != hot.tolist()


def test_file_names_spell_the_pair():
    assert map_filename("teacher", "V<-A", 1) == "teacher_V_from_A_layer1.png"
    assert map_filename("student", "mem_V", 0, head=2) == "student_mem_V_layer0_head2.png"
