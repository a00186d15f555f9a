"""``vton-data``: data tools (``synth`` writes the synthetic dataset, ``check`` validates a dataset).

Each tool module registers its own sub-command through ``add_subcommand(subparsers)``; the
registered ``func(args) -> int`` returns the process exit code.

User mistakes (a ``contract.errors.UserInputError``, e.g. a data root that does not exist) end in one line on stderr,
``vton-data: error: <message>``, and exit status 2, without a traceback unless ``VTON_DEBUG=1`` or ``--debug``
(anywhere on the command line) asks for one; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from contract.errors import UserInputError

DEBUG_FLAG = "--debug"
DEBUG_ENV = "VTON_DEBUG"
EXIT_USER_ERROR = 2


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer ``>= minimum``."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    from datamodules import check
    from datamodules.synthetic import cli as synth_cli

    parser = argparse.ArgumentParser(
        prog="vton-data",
        description=__doc__.splitlines()[0],
        epilog=f"{DEBUG_FLAG} (or {DEBUG_ENV}=1) shows the traceback of a user mistake instead of its one line",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    synth_cli.add_subcommands(subparsers)  # synth, grid
    check.add_subcommand(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``vton-data`` on ``argv`` (default ``sys.argv[1:]``); the exit status (module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    args = build_parser().parse_args([arg for arg in argv if arg != DEBUG_FLAG])
    try:
        return int(args.func(args))
    except UserInputError as error:
        if debug:
            raise
        print(f"vton-data: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
