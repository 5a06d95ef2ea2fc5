"""Fixed, re-runnable experiments that measure a claim (not searches).

`kd_gain`: on the synthetic default, over several seeds, does the multimodal teacher beat a
video-only student trained without distillation, and does the EDAM student beat that one?
"""

from kdsearch.experiments.kd_gain import KDGainOptions, kd_gain_command, run_kd_gain

__all__ = ["KDGainOptions", "kd_gain_command", "run_kd_gain"]
