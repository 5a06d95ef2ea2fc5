"""Experiment kinds by the name `kind:` uses: `distill` (a video-only student learns from a frozen
teacher, paper 000) and `dmd` (a DMD model trains on its own, paper 003).

Each kind module is imported here explicitly, so registration never depends on import order.
Adding a kind: one module with an `ExperimentKind` subclass under `@register_kind`, imported here.
"""

from kdsearch.spec.kinds import distill, dmd  # noqa: F401  (registers "distill", "dmd")
from kdsearch.spec.kinds.base import DEFAULT_KIND, KINDS, ExperimentKind, Run, get_kind, kind_of, register_kind

__all__ = ["DEFAULT_KIND", "KINDS", "ExperimentKind", "Run", "get_kind", "kind_of", "register_kind"]
