"""Distillation losses: one file each, one signature, registered by the YAML name.

Every loss module is imported here explicitly, so registration never depends on import order.
"""

from kdsearch.distill import crd, edam, logit  # noqa: F401  (registers "crd", "edam", "logit")
from kdsearch.distill.base import KD_LEVELS, KDLoss
from kdsearch.distill.registry import LOSSES, build_loss, loss_options, option_names, options_for, register_loss

__all__ = ["KD_LEVELS", "KDLoss", "LOSSES", "build_loss", "loss_options", "option_names", "options_for", "register_loss"]
