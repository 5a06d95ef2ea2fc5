"""Help that answers: every argument of every command says what it is, `run --help` says what
`--resume` needs, and the commands a README example uses exist as written."""

import argparse
import subprocess
import sys

import pytest

from kdsearch.cli import main
from kdsearch.cli.parser import build_parser


def _arguments(parser, prefix=("kdsearch",)):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _arguments(sub, (*prefix, name))
        elif not isinstance(action, argparse._HelpAction):
            yield " ".join(prefix), "/".join(action.option_strings) or action.dest, action


def test_every_argument_of_every_command_has_help():
    missing = [f"{command} {name}" for command, name, action in _arguments(build_parser()) if not action.help]
    assert missing == []


def test_run_help_says_what_resume_needs():
    result = subprocess.run([sys.executable, "-m", "kdsearch", "run", "--help"], capture_output=True, text=True,
                            timeout=120)
    text = " ".join(result.stdout.split())
    assert "--resume" in text and "--name NAME" in text and "same space" in text
    assert "--threads" in text


@pytest.mark.parametrize("command", ["train", "predict", "evaluate", "export", "describe", "diagnose", "run"])
def test_single_process_commands_take_threads(command):
    names = {name for cmd, name, _ in _arguments(build_parser()) if cmd == f"kdsearch {command}"}
    assert "--threads" in names


def test_data_path_prints_the_file_a_space_trains_on(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KDSEARCH_CACHE", str(tmp_path / "cache"))
    assert main(["data", "path", "smoke"]) == 0
    path = capsys.readouterr().out.strip()
    assert path.startswith(str(tmp_path / "cache" / "data")) and path.endswith(".h5")
    assert main(["data", "info", path]) == 0  # the printed path is the dataset itself
