from slimpipe.cli import options

HELP = "measure each prunable layer's sensitivity (JSON; re-running with the same --out resumes)"


def add_arguments(cmd):
    from slimpipe import defaults
    from slimpipe.cli.docs import help_text
    from slimpipe.pruning.channels import CRITERIA

    def text(name, default=None):
        return help_text("sensitivity", name, default)

    cmd.add_argument("--model", required=True, help=text("model"))
    cmd.add_argument("--dataset", required=True, help=text("dataset"))
    options.add_output(cmd, "sensitivities JSON file")
    cmd.add_argument("--criterion", default=defaults.CRITERION, choices=CRITERIA,
                     help=text("criterion", defaults.CRITERION))
    cmd.add_argument("--ratios", default=defaults.SENSITIVITY_RATIOS, help=text("ratios", defaults.SENSITIVITY_RATIOS))
    cmd.add_argument("--threads", type=options.COUNT, default=defaults.SENSITIVITY_THREADS,
                     help=text("threads", defaults.SENSITIVITY_THREADS))
    cmd.add_argument("--workers", type=options.COUNT, default=defaults.SENSITIVITY_WORKERS,
                     help=text("workers", defaults.SENSITIVITY_WORKERS))
    cmd.add_argument("--checkpoint", default=None, help=text("checkpoint"))
    cmd.add_argument("--shard", default=None, metavar="I/N", help=f"{text('shard')}; join with merge-sensitivities")
    cmd.add_argument("--stop-loss", type=options.POSITIVE, default=None, metavar="CAP", help=text("stop_loss"))
    cmd.add_argument("--subset", type=options.COUNT, default=None, metavar="N", help=text("subset"))
    cmd.add_argument("--seed", type=options.NON_NEGATIVE, default=defaults.SEED,
                     help=f"seed of --subset (default {defaults.SEED})")


def run(args):
    from slimpipe.pruning.sensitivity import parse_ratios
    from slimpipe.stages.sensitivity import parse_shard, sensitivity

    sensitivity(args.model, args.dataset, args.out, criterion=args.criterion, ratios=parse_ratios(args.ratios),
                threads=args.threads, workers=args.workers, checkpoint=args.checkpoint,
                shard=parse_shard(args.shard) if args.shard else None, stop_loss=args.stop_loss,
                subset=args.subset, seed=args.seed, overwrite=args.overwrite)
