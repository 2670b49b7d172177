"""`slimpipe` command line: one module per subcommand, each a thin layer over a stage function."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from slimpipe import __version__
from slimpipe.errors import SlimpipeError

SUBCOMMANDS = ("sample", "ingest", "train", "sensitivity", "merge_sensitivities", "latency_table",
               "merge_latency_tables", "visualize", "prune_train",
               "benchmark", "sweep_select", "report", "publish", "serve", "run", "compile", "submit", "schedule")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every subcommand with its help line; the arguments of `command` only, when given (`run`, `submit` and
    `schedule` read them from the pipeline, which imports kfp: a second and a half that a pod running
    `slimpipe sensitivity` should not pay)."""
    parser = argparse.ArgumentParser(prog="slimpipe", description=__doc__)
    parser.add_argument("--version", action="version", version=f"slimpipe {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"slimpipe.cli.{name}")
        flag = name.replace("_", "-")
        cmd = sub.add_parser(flag, help=module.HELP, description=module.HELP)
        if command in (None, flag):
            module.add_arguments(cmd)
        cmd.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GLOG_minloglevel", "2")
    argv = sys.argv[1:] if argv is None else argv
    named = [a for a in argv if not a.startswith("-")][:1]
    args = build_parser(named[0] if named else None).parse_args(argv)
    try:
        args.handler(args)
    except SlimpipeError as exc:
        print(f"slimpipe {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0
