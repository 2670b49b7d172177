from slimpipe.cli import options

HELP = ("prune by sensitivities (--eval-metric-loss, --pruned-flops, or a latency target with --latency-table) "
        "and retrain")


def add_arguments(cmd):
    from slimpipe import defaults
    from slimpipe.cli.docs import help_text
    from slimpipe.pruning.latency_target import DEFAULT_MAX_LAYER_LOSS, DEFAULT_PLAN, PLANS

    def text(name, default=None):
        return help_text("prune_train", name, default)

    cmd.add_argument("--model", required=True, help=text("model"))
    cmd.add_argument("--dataset", required=True, help=text("dataset"))
    cmd.add_argument("--sensitivities", required=True, help=text("sensitivities"))
    target = cmd.add_mutually_exclusive_group(required=True)
    target.add_argument("--eval-metric-loss", type=options.FINITE, help=text("eval_metric_loss"))
    target.add_argument("--pruned-flops", type=options.FINITE, help=text("pruned_flops"))
    target.add_argument("--target-speedup", type=options.FINITE, help=text("target_speedup"))
    target.add_argument("--target-latency-ms", type=options.FINITE, help=text("target_latency_ms"))
    cmd.add_argument("--latency-table", metavar="L.json", help=text("latency_table"))
    cmd.add_argument("--max-layer-loss", type=options.FINITE, default=None,
                     help=text("max_layer_loss", DEFAULT_MAX_LAYER_LOSS))
    cmd.add_argument("--latency-plan", choices=PLANS, default=None, help=text("latency_plan", DEFAULT_PLAN))
    # The command line's K is the multiple itself (1 = none); the component's 0 and -1 are pipeline sentinels.
    cmd.add_argument("--align", type=options.COUNT, default=None, metavar="K",
                     help="keep channel counts at multiples of K; 1 = none (default: 8 with --gpu-serving, else none)")
    cmd.add_argument("--gpu-serving", action="store_true", help=text("gpu_serving"))
    options.add_output(cmd, "pruned model directory to write")
    options.add_train_settings(cmd, "prune_train", epochs=defaults.PRUNE_EPOCHS,
                               learning_rate=defaults.PRUNE_LEARNING_RATE)


def run(args):
    from slimpipe.stages.prune_train import prune_train

    prune_train(args.model, args.dataset, args.sensitivities, args.out, eval_metric_loss=args.eval_metric_loss,
                pruned_flops=args.pruned_flops, epochs=args.epochs, align=args.align, batch_size=args.batch_size,
                learning_rate=args.learning_rate, seed=args.seed, gpu_serving=args.gpu_serving,
                overwrite=args.overwrite, latency_table=args.latency_table, target_speedup=args.target_speedup,
                target_latency_ms=args.target_latency_ms, max_layer_loss=args.max_layer_loss,
                latency_plan=args.latency_plan)
