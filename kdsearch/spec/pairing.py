"""Paper 000's student configuration <-> teacher pairing, as a warning (never an error).

Paper 000 §4.2 distils configuration 1 and 5 students from the complete teacher, configuration 2
from the video branch, 3 from the language branch and 4 from the audio branch; the default
`distill.pairs` of each configuration name that teacher's transformers. Another pairing can be
a deliberate experiment, so it runs, with one line saying what the paper pairs instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kdsearch.spec.space import Space


def pairing_warning(space: "Space") -> str | None:
    """One line naming every (configuration, teacher branch) pairing of the space that paper 000
    does not use, with the paper's pairing; None when there is none.

    Only distilling MulT-teacher configurations count: a DMD teacher is outside paper 000's
    pairings, and a beta = 0 configuration (no KD) uses no teacher at all.
    """
    from kdsearch.models.video_student import TEACHER_BRANCH_FOR_CONFIG
    from kdsearch.spec.combos import categorical_configs

    if space.config.get("kind") == "dmd":
        return None
    searched_beta = "loss.beta" in space.params
    odd: dict[int, set[str]] = {}
    for cfg in categorical_configs(space):
        if cfg["teacher"].get("arch", "mult") != "mult" or (float(cfg["loss"]["beta"]) == 0.0 and not searched_beta):
            continue
        config, branch = int(cfg["student"]["config"]), cfg["teacher"].get("branch", "complete")
        if TEACHER_BRANCH_FOR_CONFIG.get(config, branch) != branch:
            odd.setdefault(config, set()).add(branch)
    if not odd:
        return None
    found = "; ".join(f"student.config {c} with the {', '.join(sorted(b))} teacher" for c, b in sorted(odd.items()))
    paper = ", ".join(f"{c} {b}" for c, b in TEACHER_BRANCH_FOR_CONFIG.items())
    return (f"{found}: paper 000 (§4.2) distils each configuration from one teacher (configuration: teacher.branch "
            f"{paper}); this pairing still runs")
