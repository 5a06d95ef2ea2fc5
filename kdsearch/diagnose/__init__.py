"""`kdsearch diagnose`: statistics and heat-maps of where attention maps concentrate.

Public API: `diagnose_command` (the CLI entry), `collect_maps` (statistics of one model's maps
on a split), and the pure functions of `kdsearch.diagnose.stats`.
"""

from kdsearch.diagnose.command import diagnose_command, rank_maps
from kdsearch.diagnose.run import collect_maps

__all__ = ["diagnose_command", "rank_maps", "collect_maps"]
