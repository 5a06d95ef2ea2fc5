"""Search results: the parquet store, the live leaderboard and the offline leaderboard command.

Public API:
    read_results       (meta, trials, epochs) from a results/<name>/ folder, UserError if unreadable
    render_leaderboard the single table renderer
    leaderboard_command `kdsearch leaderboard results/<name>`
"""

from kdsearch.results.leaderboard import leaderboard_command
from kdsearch.results.records import TrialRecords
from kdsearch.results.store import read_results
from kdsearch.results.table import render_leaderboard, summary_line

__all__ = [
    "TrialRecords",
    "leaderboard_command",
    "read_results",
    "render_leaderboard",
    "summary_line",
]
