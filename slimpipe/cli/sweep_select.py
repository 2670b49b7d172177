from slimpipe.cli import options

HELP = "compare pruned models of an eval_metric_loss sweep; copy out the fastest that passes the gate"


def add_arguments(cmd):
    from slimpipe import defaults
    from slimpipe.cli.docs import help_text

    def text(name, default=None):
        return help_text("sweep_select", name, default)

    cmd.add_argument("--base", required=True, help=f"{text('base')} (JSON)")
    cmd.add_argument("--results", nargs="+", required=True, help=f"{text('results')} (JSON)")
    cmd.add_argument("--models", nargs="+", required=True, help=f"{text('models')} (directories)")
    cmd.add_argument("--max-drop-points", type=options.FINITE, default=defaults.MAX_DROP_POINTS,
                     help=text("max_drop_points", defaults.MAX_DROP_POINTS))
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
