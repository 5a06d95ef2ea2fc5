"""Ctrl-C (SIGINT) and SIGTERM during a long command: stop cleanly and say so, never "finished".

A shell's Ctrl-C and a job scheduler's SIGTERM both mean "stop now, I may continue later". The
first signal asks the running loop to wind down (a search lets Ray Tune save its experiment
state one last time); a second one, or a signal outside such a loop, stops at once. Either way
the command ends with `Interrupted`, which the CLI turns into one message and the conventional
exit status 128 + signal number (130 for SIGINT, 143 for SIGTERM), so a script never mistakes
an interrupted search for a finished one.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The command was stopped by `signum`; `exit_code` is the shell's convention for it."""

    def __init__(self, signum: int = signal.SIGINT, **context):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)
        self.context = context  # what the caller knows about where it stopped (e.g. a search's name)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


class SignalGuard:
    """Records the first SIGINT/SIGTERM; `wind_down` (when set) is asked to stop gracefully."""

    def __init__(self) -> None:
        self.received: int | None = None
        # Returns True when it could ask the running loop to stop; False: stop at once instead.
        self.wind_down: Callable[[], bool] | None = None
        self.active = threading.current_thread() is threading.main_thread()

    def __call__(self, signum: int, frame) -> None:
        first = self.received is None
        if first:
            self.received = signum
        if first and self.wind_down is not None and self.wind_down():
            return
        raise Interrupted(self.received)

    def install(self) -> None:
        """(Re)claims SIGINT and SIGTERM: libraries that set their own (ray.init sets SIGTERM to
        a bare sys.exit) are overruled by calling this after them."""
        if self.active:
            for s in SIGNALS:
                signal.signal(s, self)

    def raise_if_received(self, **context) -> None:
        if self.received is not None:
            raise Interrupted(self.received, **context)


@contextmanager
def guarded() -> Iterator[SignalGuard]:
    """Installs a `SignalGuard` for SIGINT and SIGTERM inside the block (main thread only: Python
    delivers signals there; elsewhere the guard is inert and signals keep their handlers)."""
    guard = SignalGuard()
    if not guard.active:
        yield guard
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    guard.install()
    try:
        yield guard
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
