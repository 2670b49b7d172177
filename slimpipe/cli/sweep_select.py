HELP = "compare pruned models of an eval_metric_loss sweep; copy out the fastest that passes the gate"


def add_arguments(cmd):
    cmd.add_argument("--base", required=True, help="benchmark JSON of the unpruned model")
    cmd.add_argument("--results", nargs="+", required=True, help="benchmark JSON of each pruned model")
    cmd.add_argument("--models", nargs="+", required=True, help="the pruned model directories, in the same order")
    cmd.add_argument("--max-drop-points", type=float, default=1.0, help="quality gate (default 1 point)")
    cmd.add_argument("--out", required=True, help="folder for model/, result.json, sweep.md and sweep.png")


def run(args):
    from pathlib import Path

    from slimpipe.stages.sweep import sweep_select

    out = Path(args.out)
    sweep_select(args.base, args.results, args.models, out / "model", out / "result.json", out / "sweep.md",
                 max_drop_points=args.max_drop_points, chart=out / "sweep.png")
    print((out / "sweep.md").read_text())
