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
