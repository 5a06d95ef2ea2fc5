"""The DMD edge figure: a valid PNG, six weighted edges per unit, width and colour ordered by weight."""

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread
from matplotlib.patches import FancyArrowPatch
from matplotlib.text import Text

from kdsearch.dmd import code_prior, draw_edges_png, edge_matrix, render_edges
from kdsearch.dmd.edge_plot import edge_gid
from kdsearch.models.crossmodal import MODALITIES

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EDGE_LIST = [(i, j) for i in MODALITIES for j in MODALITIES if i != j]


def prior_matrices():
    return {unit: edge_matrix(code_prior(unit)[None]).numpy() for unit in ("homo", "hetero")}


def edges_of(fig, unit):
    """{(src, dst): (arrow, label text)} of one unit's panel, found by the artists' gids."""
    arrows = {p.get_gid(): p for ax in fig.axes for p in ax.patches if isinstance(p, FancyArrowPatch)}
    texts = {t.get_gid(): t for ax in fig.axes for t in ax.texts if t.get_gid()}
    return {(s, d): (arrows[edge_gid(unit, s, d)], texts[edge_gid(unit, s, d)]) for s, d in EDGE_LIST}


def luminance(colour):
    r, g, b = to_rgb(colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_edges_png_is_a_valid_picture(tmp_path):
    path = draw_edges_png(prior_matrices(), tmp_path / "plots" / "edges.png", title="trial 3")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    height, width = image.shape[:2]
    assert height >= 400 and width >= 800  # two panels side by side plus a colour bar
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_each_panel_draws_six_labelled_edges_of_its_matrix():
    matrices = prior_matrices()
    fig = render_edges(matrices, title="trial 3, epoch 12")
    index = {m: k for k, m in enumerate(MODALITIES)}
    for unit, matrix in matrices.items():
        edges = edges_of(fig, unit)
        assert len(edges) == 6
        for (src, dst), (arrow, label) in edges.items():
            assert label.get_text() == f"{matrix[index[src], index[dst]]:.2f}"
    titles = [ax.get_title() for ax in fig.axes]
    assert any(t.startswith("HomoGD") for t in titles) and any(t.startswith("HeteroGD") for t in titles)
    words = {t.get_text() for t in fig.findobj(Text)}
    heading = next(w for w in words if w.startswith("DMD learned"))
    assert "trial 3, epoch 12" in heading and "distils into" in heading
    assert {"L", "A", "V", "language", "audio", "vision"} <= words


def test_heavier_edges_are_wider_and_darker():
    weights = np.array([0.02, 0.05, 0.1, 0.18, 0.25, 0.4])  # sums to 1, like a unit's softmax
    matrix = np.zeros((3, 3))
    index = {m: k for k, m in enumerate(MODALITIES)}
    order = [("V", "A"), ("L", "V"), ("A", "L"), ("V", "L"), ("A", "V"), ("L", "A")]  # light to heavy
    for (src, dst), w in zip(order, weights):
        matrix[index[src], index[dst]] = w
    edges = edges_of(render_edges({"homo": matrix}), "homo")
    widths = [edges[e][0].get_linewidth() for e in order]
    shades = [luminance(edges[e][0].get_edgecolor()) for e in order]
    assert widths == sorted(widths) and len(set(widths)) == 6
    assert shades == sorted(shades, reverse=True) and len(set(shades)) == 6


def test_both_panels_share_one_colour_scale_with_a_labelled_bar():
    homo = np.full((3, 3), 1 / 6) * (1 - np.eye(3))  # uniform routing
    hetero = prior_matrices()["hetero"]  # peaks at 1/3
    fig = render_edges({"homo": homo, "hetero": hetero})
    bar = fig.axes[-1]
    assert "edge weight" in bar.get_ylabel()
    assert bar.get_ylim() == pytest.approx((0.0, hetero.max()))
    # The same weight gets the same colour in either panel: uniform homo edges are not saturated.
    uniform = edges_of(fig, "homo")[("L", "A")][0].get_edgecolor()
    heavy = edges_of(fig, "hetero")[("L", "A")][0].get_edgecolor()
    assert luminance(uniform) > luminance(heavy)


def test_bad_matrix_shape_is_refused():
    with pytest.raises(ValueError, match="3x3"):
        render_edges({"homo": np.zeros((2, 2))})


def test_report_draws_the_best_epochs_edges(tmp_path, monkeypatch):
    import pandas as pd

    import kdsearch.dmd
    from kdsearch.report.search_report import dmd_edges

    seen = {}

    def spy(matrices, path, title=None):
        seen.update(matrices=matrices, title=title)
        return draw_edges_png(matrices, path, title)

    monkeypatch.setattr(kdsearch.dmd, "draw_edges_png", spy)

    rows = []
    for epoch, scale in ((1, 1.0), (2, 2.0)):
        row = {"trial_id": "t1", "epoch": epoch}
        row.update({f"edge/{u}/{s}->{d}": scale * (k + 1) / 42 for u in ("homo", "hetero")
                    for k, (s, d) in enumerate(EDGE_LIST)})
        rows.append(row)
    path = dmd_edges(pd.DataFrame(rows), "t1", 1, tmp_path / "dmd_edges.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert seen["title"] == "trial t1, epoch 1"
    index = {m: k for k, m in enumerate(MODALITIES)}
    assert seen["matrices"]["hetero"][index["L"], index["A"]] == pytest.approx(1 / 42)  # epoch 1, not 2
    assert dmd_edges(pd.DataFrame([{"trial_id": "t1", "epoch": 1}]), "t1", 1, tmp_path / "none.png") is None
