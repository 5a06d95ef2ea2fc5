"""What an interrupted `kdsearch run` prints in place of a summary (the signal paths themselves run
through the real CLI in tests/e2e/test_interrupt_and_resume.py)."""

import signal

from kdsearch.interrupts import Interrupted
from kdsearch.verbs.outcome import print_interrupted


def test_stopped_before_any_trial_says_so_and_still_gives_the_resume_line(tmp_path, capsys):
    (tmp_path / "space.yaml").write_text("name: smoke\n")  # claimed, teacher still training
    exc = Interrupted(signal.SIGTERM, name="s", folder=tmp_path, resumable=True)
    print_interrupted(exc, "kdsearch run smoke --name s --resume")
    err = capsys.readouterr().err.splitlines()
    assert err == ["kdsearch: search s interrupted (SIGTERM); it did not finish.",
                   "No trial had started. Continue it with:", "  kdsearch run smoke --name s --resume"]
    assert exc.exit_code == 143


def test_stopped_before_anything_was_written_says_run_it_again(capsys):
    exc = Interrupted(signal.SIGINT, name=None, folder=None, resumable=False)
    print_interrupted(exc, "unused")
    assert capsys.readouterr().err.splitlines() == [
        "kdsearch: search interrupted (SIGINT); it did not finish.",
        "Nothing was written yet: run the same command again to start it."]
    assert exc.exit_code == 130
