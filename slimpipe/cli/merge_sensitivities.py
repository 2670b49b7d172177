from slimpipe.cli import options

HELP = "join sensitivity shard files (slimpipe sensitivity --shard I/N) into one analysis"


def add_arguments(cmd):
    cmd.add_argument("shards", nargs="+", help="the N complete shard files")
    options.add_output(cmd, "merged sensitivities JSON file")


def run(args):
    from slimpipe.stages.sensitivity import merge_sensitivities

    merge_sensitivities(args.shards, args.out, overwrite=args.overwrite)
