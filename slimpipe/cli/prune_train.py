from slimpipe.cli import options

HELP = ("prune by sensitivities (--eval-metric-loss, --pruned-flops, or a latency target with --latency-table) "
        "and retrain")


def add_arguments(cmd):
    from slimpipe.pruning.latency_target import DEFAULT_MAX_LAYER_LOSS

    cmd.add_argument("--model", required=True, help="trained (unpruned) model directory")
    cmd.add_argument("--dataset", required=True, help="dataset folder")
    cmd.add_argument("--sensitivities", required=True, help="sensitivities JSON file of this model")
    target = cmd.add_mutually_exclusive_group(required=True)
    target.add_argument("--eval-metric-loss", type=options.FINITE,
                        help="largest relative metric loss per layer, in (0, 1)")
    target.add_argument("--pruned-flops", type=options.FINITE, help="fraction of FLOPs to remove, in (0, 1)")
    target.add_argument("--target-speedup", type=options.FINITE,
                        help="speed-up to reach over the unpruned model, above 1, measured on the latency table's "
                             "predictor settings (needs --latency-table)")
    target.add_argument("--target-latency-ms", type=options.FINITE,
                        help="latency to reach, ms per run() on the latency table's predictor settings "
                             "(needs --latency-table)")
    cmd.add_argument("--latency-table", metavar="L.json",
                     help="latency table of this model (`slimpipe latency-table`), for a latency target")
    cmd.add_argument("--max-layer-loss", type=options.FINITE, default=None,
                     help="with a latency target: the largest sensitivity loss any one layer may take, in (0, 1] "
                          f"(default {DEFAULT_MAX_LAYER_LOSS})")
    cmd.add_argument("--align", type=options.COUNT, default=None, metavar="K",
                     help="keep channel counts at multiples of K; 1 = none (default: 8 with --gpu-serving, else none)")
    cmd.add_argument("--gpu-serving", action="store_true",
                     help="the model will be served on GPU: align widths to 8 unless --align says otherwise")
    options.add_output(cmd, "pruned model directory to write")
    options.add_train_settings(cmd, epochs=5, learning_rate=0.002)


def run(args):
    from slimpipe.stages.prune_train import prune_train

    prune_train(args.model, args.dataset, args.sensitivities, args.out, eval_metric_loss=args.eval_metric_loss,
                pruned_flops=args.pruned_flops, epochs=args.epochs, align=args.align, batch_size=args.batch_size,
                learning_rate=args.learning_rate, seed=args.seed, gpu_serving=args.gpu_serving,
                overwrite=args.overwrite, latency_table=args.latency_table, target_speedup=args.target_speedup,
                target_latency_ms=args.target_latency_ms, max_layer_loss=args.max_layer_loss)
