from slimpipe.cli import options

HELP = "compare pruned models of an eval_metric_loss sweep; copy out the fastest that passes the gate"


def add_arguments(cmd):
    cmd.add_argument("--base", required=True, help="benchmark JSON of the unpruned model")
    cmd.add_argument("--results", nargs="+", required=True, help="benchmark JSON of each pruned model")
    cmd.add_argument("--models", nargs="+", required=True, help="the pruned model directories, in the same order")
    cmd.add_argument("--max-drop-points", type=options.FINITE, default=1.0, help="quality gate (default 1 point)")
    options.add_output(cmd, "folder for model/, result.json, sweep.md and sweep.png")


def run(args):
    from slimpipe import atomic
    from slimpipe.stages.sweep import STAGE, sweep_select

    atomic.claim(args.out, STAGE, {"base result": args.base, "result": args.results, "model": args.models},
                 args.overwrite)
    with atomic.output_dir(args.out, STAGE) as out:
        result = sweep_select(args.base, args.results, args.models, out / "model", out / "result.json",
                              out / "sweep.md", max_drop_points=args.max_drop_points, chart=out / "sweep.png")
    print(result["report"])
