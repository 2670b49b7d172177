from slimpipe.cli import options

HELP = ("measure the latency each prunable layer saves when pruned, per ratio, fitted to whole pruning plans or "
        "timed alone (JSON; re-running with the same --out resumes)")


def add_arguments(cmd):
    from slimpipe.pruning import latency as lat
    from slimpipe.stages.latency_table import BENCHMARK_DEFAULTS as B

    from slimpipe.cli.docs import help_text

    def text(name):
        return help_text("latency_table", name)

    cmd.add_argument("--model", required=True, help=f"{text('model')} (directory)")
    cmd.add_argument("--dataset", required=True, help=text("dataset"))
    options.add_output(cmd, "latency table JSON file")
    cmd.add_argument("--device", default=B["device"], choices=("cpu", "gpu"),
                     help=f"predictor device (default {B['device']}, as the benchmark)")
    cmd.add_argument("--mkldnn", type=options.on_off, default=B["mkldnn"],
                     help=f"on|off (default {'on' if B['mkldnn'] else 'off'}, as the benchmark)")
    cmd.add_argument("--threads", type=options.COUNT, default=B["threads"],
                     help=f"CPU math threads (default {B['threads']}, as the benchmark)")
    cmd.add_argument("--batch", type=options.COUNT, default=B["batch"],
                     help=f"images per timed run (default {B['batch']}, as the benchmark)")
    cmd.add_argument("--method", default=lat.DEFAULT_METHOD, choices=lat.METHODS,
                     help=f"{text('method')} (default %(default)s)")
    cmd.add_argument("--plans", type=options.COUNT, default=None,
                     help=f"{text('plans')} (default: twice the prunable layers and {len(lat.UNIFORM_RATIOS)}, at "
                          f"least {lat.MIN_PLANS})")
    cmd.add_argument("--seed", type=options.NON_NEGATIVE, default=0,
                     help="chooses the random plans (default %(default)s)")
    cmd.add_argument("--ratios", default=None,
                     help=f"{text('ratios')} (default {','.join(map(str, lat.PLAN_RATIOS))} for plans, "
                          f"{','.join(map(str, lat.DEFAULT_RATIOS))} for layers)")
    cmd.add_argument("--shard", default=None, metavar="I/N", help=f"{text('shard')}; join with merge-latency-tables")
    cmd.add_argument("--rounds", type=options.COUNT, default=lat.DEFAULT_ROUNDS,
                     help=f"{text('rounds')} (default %(default)s)")
    cmd.add_argument("--repeats", type=options.COUNT, default=lat.DEFAULT_REPEATS,
                     help=f"{text('repeats')} (default %(default)s)")
    cmd.add_argument("--settle", type=options.NON_NEGATIVE, default=lat.DEFAULT_SETTLE,
                     help=f"{text('settle')} (default %(default)s)")


def run(args):
    from slimpipe.pruning.sensitivity import parse_ratios
    from slimpipe.stages.latency_table import latency_table
    from slimpipe.stages.sensitivity import parse_shard

    latency_table(args.model, args.dataset, args.out, device=args.device, mkldnn=args.mkldnn, threads=args.threads,
                  batch=args.batch, ratios=parse_ratios(args.ratios) if args.ratios is not None else None,
                  method=args.method, plans=args.plans, seed=args.seed,
                  shard=parse_shard(args.shard) if args.shard else None, rounds=args.rounds,
                  repeats=args.repeats, settle=args.settle, overwrite=args.overwrite)
