"""The live leaderboard: a driver-side Tune callback.

Ray 2.60 ignores custom ProgressReporters under its new output engine, so the live view is a
`tune.Callback`. On a terminal it redraws a `rich.live.Live` table; in logs and pipes (CI)
redrawing would spam, so it prints one compact summary line every few seconds instead. Both end
with the same final table as `kdsearch leaderboard`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from kdsearch.results.leaderboard import TOP_ROWS
from kdsearch.results.table import budget_used, render_leaderboard, summary_line
from kdsearch.search.callbacks import RecordingCallback


class LiveLeaderboard(RecordingCallback):
    """Shows the search as it runs: a live table on a terminal, summary lines otherwise.

    Args:
        searched: dotted names of the searched parameters (table columns).
        metric: the search metric, e.g. "val_acc7".
        mode: "max" or "min".
        max_epochs: ASHA's max_t.
        num_samples: trials in the budget (<= 0: unbounded, no progress bar).
        rungs: ASHA rung epochs, to show the rung each trial reached.
        console: where to draw (default: a new stdout Console).
        refresh_per_second: most redraws per second of the live table.
        summary_every_s: seconds between summary lines when not on a terminal.
        top: rows shown in the live and final tables.
        results_dir: the search's `results/<name>`: on `--resume` the view takes back the rows
            already written there, as `ResultsWriter` does, so it shows the whole search and
            not only the trials run since the restart.
    """

    def __init__(self, *, searched: Iterable[str], metric: str, mode: str, max_epochs: int,
                 num_samples: int, rungs: Sequence[int] | None = None,
                 console: Console | None = None, refresh_per_second: float = 4,
                 summary_every_s: float = 5.0, top: int = TOP_ROWS, objectives: Sequence[dict] | None = None,
                 results_dir: str | os.PathLike | None = None, epoch_rule: str = "best"):
        super().__init__(searched=searched, metric=metric, mode=mode, max_epochs=max_epochs, epoch_rule=epoch_rule)
        self.results_dir = None if results_dir is None else str(Path(results_dir).absolute())
        self.objectives = list(objectives or [])
        self.num_samples = num_samples
        self.rungs = sorted(rungs) if rungs else None
        self.console = console
        self.refresh_every_s = 1.0 / refresh_per_second if refresh_per_second > 0 else 0.0
        self.summary_every_s = summary_every_s
        self.top = top
        self._live: Live | None = None
        self._last_draw = float("-inf")
        self._drawn_events = -1
        self._last_line, self._last_line_at = "", float("-inf")

    def __getstate__(self) -> dict[str, Any]:
        # Tuner pickles its RunConfig (callbacks included) for restore; a Console holds locks
        # and a Live holds a thread, so both are dropped and a restored search draws on stdout.
        state = self.__dict__.copy()
        state.update(console=None, _live=None)
        return state

    # ------------------------------------------------------------ callback
    def setup(self, stop=None, num_samples=None, total_num_samples=None, **info):
        if not self.records.trials:
            # getattr: a board pickled by an older kdsearch has no results_dir.
            self._take_back_rows(getattr(self, "results_dir", None), strict=False)
        if self.console is None:
            self.console = Console()
        if self.console.is_terminal:
            # transient: the last live frame is erased, the final table replaces it.
            self._live = Live(self._renderable(), console=self.console, auto_refresh=False,
                              transient=True, redirect_stdout=True, redirect_stderr=True)
            self._live.start()

    def _changed(self, *, final: bool) -> None:
        now = time.monotonic()
        every = self.refresh_every_s if self._live is not None else self.summary_every_s
        if self._live is not None and self.events == self._drawn_events:
            # Nothing new: redraw only to tick the elapsed clocks (rich renders a 15-row table in
            # ~30 ms, too much to repeat 4 times a second on the driver for nothing).
            every = max(every, 1.0)
        # Ends are not forced through: the final table at experiment end shows them anyway,
        # and a log line per finished trial would drown the periodic summary.
        if now - self._last_draw >= every:
            self._last_draw = now
            self._drawn_events = self.events
            self._draw()

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info):
        super().on_trial_error(iteration, trials, trial, **info)
        row = self.records.trials[trial.trial_id]
        self._print(f"[kdsearch] trial {trial.trial_id} error: {row['error']}")

    def on_experiment_end(self, trials: list, **info):
        if self._live is not None:
            self._live.stop()
            self._live = None
        self.records.touch_running()
        if self.console is None:
            self.console = Console()
        self.console.print(self._renderable(top=self.top))
        if not self.console.is_terminal:
            self._print(self._summary())

    # --------------------------------------------------------------- drawing
    def _draw(self) -> None:
        if self.console is None:  # events before setup: nothing to draw on yet
            return
        if self._live is not None:
            self.records.touch_running()
            self._live.update(self._renderable(), refresh=True)
        else:
            line = self._summary()
            # In logs, an unchanged line is noise; repeat it only as a once-a-minute heartbeat.
            if line != self._last_line or time.monotonic() - self._last_line_at >= 60:
                self._print(line)
                self._last_line, self._last_line_at = line, time.monotonic()

    def _summary(self) -> str:
        return summary_line(self.records.trials_frame(), metric=self.records.metric,
                            mode=self.records.mode, num_samples=self.num_samples,
                            max_epochs=self.records.max_epochs)

    def _print(self, line: str) -> None:
        if self.console is not None:
            # markup off: "[kdsearch]" must not be read as a rich style tag.
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def _renderable(self, top: int | None = None) -> RenderableType:
        records = self.records
        trials = records.trials_frame()
        table = render_leaderboard(trials, searched=records.searched, metric=records.metric,
                                   mode=records.mode, top=top or self.top,
                                   max_epochs=records.max_epochs, rungs=self.rungs,
                                   objectives=self.objectives)
        used, total = budget_used(trials, num_samples=self.num_samples,
                                  max_epochs=records.max_epochs)
        if not total:
            return Group(table, f"{used} trial-epochs")
        bar = Table.grid(padding=(0, 1))
        bar.add_row(ProgressBar(total=total, completed=min(used, total), width=40),
                    f"{used}/{total} trial-epochs ({100 * used / total:.0f}%)")
        return Group(table, bar)
