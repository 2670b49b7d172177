from slimpipe.cli import options

HELP = "measure each prunable layer's sensitivity (JSON; re-running with the same --out resumes)"


def add_arguments(cmd):
    from slimpipe.pruning.channels import CRITERIA

    cmd.add_argument("--model", required=True, help="trained model directory")
    cmd.add_argument("--dataset", required=True, help="dataset folder; its val split is used")
    options.add_output(cmd, "sensitivities JSON file")
    cmd.add_argument("--criterion", default="l1_norm", choices=CRITERIA, help="channel ranking (default l1_norm)")
    cmd.add_argument("--ratios", default="0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9", help="ratios to try per layer")
    cmd.add_argument("--threads", type=options.COUNT, default=2, help="CPU threads for evaluation (default 2)")
    cmd.add_argument("--checkpoint", default=None,
                     help="object-store URI (s3://bucket/key.json) or path to checkpoint partial results to")
    cmd.add_argument("--shard", default=None, metavar="I/N",
                     help="measure only shard I of N (every N-th layer from the I-th); join with merge-sensitivities")
    cmd.add_argument("--stop-loss", type=options.POSITIVE, default=None, metavar="CAP",
                     help="stop a layer once its loss reaches CAP; larger ratios are recorded as 'at least CAP'")
    cmd.add_argument("--subset", type=options.COUNT, default=None, metavar="N",
                     help="measure on a fixed, seeded, class-balanced subset of N val images")
    cmd.add_argument("--seed", type=options.NON_NEGATIVE, default=0, help="seed of --subset (default 0)")


def run(args):
    from slimpipe.pruning.sensitivity import parse_ratios
    from slimpipe.stages.sensitivity import parse_shard, sensitivity

    sensitivity(args.model, args.dataset, args.out, criterion=args.criterion, ratios=parse_ratios(args.ratios),
                threads=args.threads, checkpoint=args.checkpoint,
                shard=parse_shard(args.shard) if args.shard else None, stop_loss=args.stop_loss,
                subset=args.subset, seed=args.seed, overwrite=args.overwrite)
