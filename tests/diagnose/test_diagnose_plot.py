"""Heat-maps: valid PNGs whose colours mean what the colour bar says, grey where masked."""

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.image import imread

from kdsearch.diagnose.plot import (LOG2_SPAN, heatmap_figure, lift_of, map_filename, map_title,
                                    write_heatmap)
from kdsearch.models.masks import mult_mask_rule

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def pixel_at(fig, image, ax, x, y):
    """RGB (0-255) of the written PNG where data point (x, y) of `ax` lands."""
    px, py = ax.transData.transform((x, y))
    return np.round(image[image.shape[0] - 1 - int(py), int(px), :3] * 255).astype(int)


def causal_uniform(t):
    allowed = mult_mask_rule(t, t).numpy()
    return allowed / allowed.sum(axis=1, keepdims=True), allowed


def test_lift_is_zero_for_uniform_attention_and_masked_where_not_allowed():
    uniform, allowed = causal_uniform(6)
    lift = lift_of(uniform, allowed)
    assert (lift.log2_cells.mask == ~allowed).all()
    assert np.allclose(lift.log2_cells.compressed(), 0.0)
    assert np.allclose(lift.profile, lift.uniform_profile) and np.allclose(lift.log2_profile, 0.0)


def test_concentration_is_clipped_to_the_fixed_scale():
    p = np.full((2, 16), 1 / 16)
    p[0] = 0.0
    p[0, 3] = 1.0  # 16x uniform: beyond the top of the scale
    lift = lift_of(p)
    assert lift.log2_cells[0, 3] == LOG2_SPAN and lift.log2_cells[0, 0] == -LOG2_SPAN  # zero mass: bottom
    assert np.allclose(lift.log2_cells[1], 0.0)
    assert lift.profile[3] == pytest.approx((1 + 1 / 16) / 2)


def test_written_png_shows_uniform_teal_masked_grey_and_hot_yellow(tmp_path):
    p, allowed = causal_uniform(8)
    p = p.copy()
    p[7] = 0.0
    p[7, 2] = 1.0  # last row sees 8 keys: all on key 2 is 8x uniform, the top of the scale
    path = write_heatmap(tmp_path / "m.png", p, allowed, title="teacher V<-A, layer 0")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    assert image.shape[0] >= 400 and image.shape[1] >= 400
    fig = heatmap_figure(p, allowed, title="teacher V<-A, layer 0")
    ax_map = fig.axes[0]
    viridis = colormaps["viridis"]
    teal = np.round(np.array(viridis(0.5)[:3]) * 255)
    yellow = np.round(np.array(viridis(1.0)[:3]) * 255)
    assert np.abs(pixel_at(fig, image, ax_map, 0, 3) - teal).max() <= 2  # key 0, query 3: uniform
    assert np.abs(pixel_at(fig, image, ax_map, 2, 7) - yellow).max() <= 2  # the concentrated cell
    assert (pixel_at(fig, image, ax_map, 5, 1) == 153).all()  # key 5 > query 1: masked, grey 0.6


def test_figure_has_labels_colour_bar_and_profile():
    p = np.random.default_rng(0).dirichlet(np.ones(10), size=4)
    fig = heatmap_figure(p, title="student V<-L, layer 1, head 0")
    ax_map, ax_profile, bar = fig.axes
    assert "student V<-L, layer 1, head 0" in ax_map.get_title()
    assert ax_map.get_ylabel() == "query position"
    assert ax_profile.get_xlabel() == "key position (time step)"
    assert "uniform" in bar.get_ylabel() and "log₂" in bar.get_ylabel()
    assert bar.get_ylim() == (-LOG2_SPAN, LOG2_SPAN)
    assert [t.get_text() for t in bar.get_yticklabels()] == ["1/8×", "1/4×", "1/2×", "1×", "2×", "4×", "8×"]
    data = ax_map.images[0].get_array()
    assert data.shape == (4, 10) and np.allclose(data, np.clip(np.log2(p * 10), -3, 3))
    heights = [r.get_height() for r in ax_profile.containers[0]]
    assert np.allclose(heights, p.mean(axis=0))
    assert np.allclose(ax_profile.lines[0].get_ydata(), 0.1)  # the uniform reference


def test_titles_and_file_names_spell_the_map():
    assert map_title("teacher", "V<-A", 1) == "teacher V<-A, layer 1 (heads averaged)"
    assert map_title("student", "mem_V", 0, head=2) == "student mem_V, layer 0, head 2"
    assert map_filename("teacher", "V<-A", 1) == "teacher_V_from_A_layer1.png"
    assert map_filename("student", "mem_V", 0, head=2) == "student_mem_V_layer0_head2.png"
