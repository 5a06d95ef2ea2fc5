"""DMD's losses (decoupling, margin, graph distillation) and the drawing of its learned edges.

The network is `kdsearch.models.dmd.DMD`; the objective that sums these terms is
`kdsearch.train.dmd_objective.DMDObjective`.
"""

from kdsearch.dmd.decoupling_losses import cycle_loss, orthogonality_loss, reconstruction_loss
from kdsearch.dmd.edge_plot import draw_edges_png, render_edges
from kdsearch.dmd.gd_unit import EDGES, GDResult, GDUnit, code_prior, edge_matrix
from kdsearch.dmd.margin import margin_loss

__all__ = [
    "EDGES", "GDResult", "GDUnit", "code_prior", "cycle_loss", "draw_edges_png", "edge_matrix", "margin_loss",
    "orthogonality_loss", "reconstruction_loss", "render_edges",
]
