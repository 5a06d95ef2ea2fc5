"""Which epoch of a trial counts: one rule for Optuna, ASHA, the leaderboard and `evaluate`.

`search.objective_epoch` is `best` (default: the trial's best validation epoch so far, under the
search metric's mode) or `last` (the epoch the trial ended on, Ray Tune's own default). Each
epoch a trial reports, beside its raw metrics, `objective/<name>` for every objective: the value
at the epoch the rule has chosen so far. Tune's `metric` is that column, so:

- Optuna receives the chosen epoch's value when a trial ends (not Ray's last result), and its
  intermediate values (the step values TPE ranks pruned trials by) are the running choice;
- ASHA compares trials at its rungs on the running best under `best`, i.e. on what the
  leaderboard would rank at that epoch (Tune's ASHA reads one column at the rung's epoch, so a
  running-best column is how "best so far" reaches it);
- the leaderboard's `best_*` columns are the chosen epoch's metrics (`TrialRecords`).
"""

from __future__ import annotations

import math

RULES = ("best", "last")
PREFIX = "objective/"


def objective_key(metric: str) -> str:
    """The column Tune and Optuna read for `metric`: `objective/val_acc7`."""
    return f"{PREFIX}{metric}"


def is_objective_key(key: str) -> bool:
    return key.startswith(PREFIX)


def chooses(rule: str, value, best, mode: str) -> bool:
    """Whether an epoch with `value` replaces the chosen epoch (whose value is `best`)."""
    if rule == "last":
        return True
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    if best is None or (isinstance(best, float) and math.isnan(best)):
        return True
    return value > best if mode == "max" else value < best


class ChosenEpoch:
    """Follows one trial's epochs and says which one the rule has chosen so far.

    Args:
        metric: the search metric (decides the best epoch).
        mode: "max" or "min".
        rule: "best" or "last".
        names: every objective (the metric first); each gets an `objective/<name>` value read at
            the chosen epoch, so a multi-objective study sees one epoch's values, as the Pareto
            front does.
    """

    def __init__(self, metric: str, mode: str, rule: str = "best", names: tuple[str, ...] = ()):
        if rule not in RULES:
            raise ValueError(f"objective_epoch must be one of {RULES}, got {rule!r}")
        self.metric, self.mode, self.rule = metric, mode, rule
        self.names = tuple(dict.fromkeys((metric, *names)))
        self.chosen: dict | None = None

    def update(self, row: dict) -> dict[str, float]:
        """Take one epoch's reported row; return the `objective/...` columns to report with it."""
        value = row.get(self.metric)
        if self.chosen is None or chooses(self.rule, value, self.chosen.get(self.metric), self.mode):
            self.chosen = dict(row)
        return {objective_key(n): float(self.chosen[n]) for n in self.names if n in self.chosen}
