"""The `kdsearch` command: parses arguments, calls library functions, maps errors to exit codes.

Thin on purpose: every command is a function in the library; this package only wires argparse
to them (`parser.py`, `commands.py`). Errors the user can fix (`UserError`) print one line and
exit with code 2.
"""

from __future__ import annotations

import sys

from kdsearch.cli.parser import build_parser
from kdsearch.errors import EXIT_USER_ERROR, UserError
from kdsearch.interrupts import Interrupted
from kdsearch.threads import use_threads

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_common_args(args, "--out" in (sys.argv[1:] if argv is None else argv))
        if getattr(args, "apply_threads", False):
            use_threads(args.threads)
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"kdsearch: error: {exc.message}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Interrupted as exc:
        print(f"kdsearch: interrupted ({exc.signal_name})", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("kdsearch: interrupted", file=sys.stderr)
        return 130


def _check_common_args(args, out_is_option: bool) -> None:
    """Options several commands share, checked before any command starts work: a device torch
    knows and this machine has, and an output path a write could succeed at."""
    from kdsearch.userfiles import check_output_path

    device = getattr(args, "device", None)
    if device is not None:
        _check_device(device)
    out = getattr(args, "out", None)
    if isinstance(out, str):
        check_output_path(out, field="--out" if out_is_option else "out")


def _check_device(device: str) -> None:
    import re

    match = re.fullmatch(r"(cpu|cuda|auto)(?::(\d{1,3}))?", device)
    if match is None or (match.group(2) is not None and match.group(1) != "cuda"):
        raise UserError(f"must be cpu or cuda (or cuda:N), got {device!r}"[:200], field="--device")
    if match.group(1) == "cuda":
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(match.group(2) or 0)
        if index >= count:
            raise UserError(f"{device} asked for, but PyTorch sees {count} CUDA device(s)", field="--device")
