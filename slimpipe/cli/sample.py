from slimpipe import defaults
from slimpipe.cli import options
from slimpipe.progress import log
from slimpipe.tasks import get_task

HELP = "write the bundled sample dataset in the PaddleX format"


def add_arguments(cmd):
    cmd.add_argument("--task", default=defaults.TASK, help=f"task whose sample to write (default {defaults.TASK})")
    options.add_output(cmd, "dataset folder to create")
    cmd.add_argument("--seed", type=options.NON_NEGATIVE, default=0, help="split seed")


def run(args):
    from pathlib import Path

    from slimpipe import atomic

    task = get_task(args.task)
    atomic.claim(args.out, "sample", overwrite=args.overwrite)
    task.write_sample(Path(args.out), seed=args.seed)
    log("sample", f"{args.task} sample written to {args.out}")
