"""Fixed, re-runnable experiments that measure a claim (not searches).

`kd_gain`: `kdsearch confirm` on the synthetic default: over several training seeds, does the
EDAM student beat the video-only student trained without distillation, and by how much?
"""

from kdsearch.experiments.kd_gain import KDGainOptions, kd_gain_command, run_kd_gain

__all__ = ["KDGainOptions", "kd_gain_command", "run_kd_gain"]
