"""``vton-data``: data tools (``synth`` writes the synthetic dataset, ``check`` validates a dataset).

Each tool module registers its own sub-command through ``add_subcommand(subparsers)``; the
registered ``func(args) -> int`` returns the process exit code.
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    from datamodules import check
    from datamodules.synthetic import cli as synth_cli

    parser = argparse.ArgumentParser(prog="vton-data", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    synth_cli.add_subcommands(subparsers)  # synth, grid
    check.add_subcommand(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
