"""Search results: the parquet store, the live leaderboard and the offline leaderboard command.

Public API:
    ResultsWriter      Tune callback writing results/<name>/{meta.json,trials,epochs}.parquet
    read_results       (meta, trials, epochs) from such a directory, UserError if unreadable
    LiveLeaderboard    Tune callback drawing the live rich table (or log summary lines)
    render_leaderboard the single table renderer
    leaderboard_command `kdsearch leaderboard results/<name>`
"""

from kdsearch.results.leaderboard import LiveLeaderboard, leaderboard_command
from kdsearch.results.records import TrialRecords
from kdsearch.results.store import ResultsWriter, read_results
from kdsearch.results.table import render_leaderboard, summary_line

__all__ = [
    "LiveLeaderboard",
    "ResultsWriter",
    "TrialRecords",
    "leaderboard_command",
    "read_results",
    "render_leaderboard",
    "summary_line",
]
