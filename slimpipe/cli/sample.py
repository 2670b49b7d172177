from slimpipe.progress import log
from slimpipe.tasks import get_task

HELP = "write the bundled sample dataset in the PaddleX format"


def add_arguments(cmd):
    cmd.add_argument("--task", default="classification", help="task whose sample to write")
    cmd.add_argument("--out", required=True, help="dataset folder to create")
    cmd.add_argument("--seed", type=int, default=0, help="split seed")


def run(args):
    from pathlib import Path

    get_task(args.task).write_sample(Path(args.out), seed=args.seed)
    log("sample", f"{args.task} sample written to {args.out}")
