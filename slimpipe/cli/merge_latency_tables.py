from slimpipe.cli import options

HELP = "join latency table shard files (slimpipe latency-table --shard I/N) into one table"


def add_arguments(cmd):
    cmd.add_argument("shards", nargs="+", help="the N complete shard files")
    options.add_output(cmd, "merged latency table JSON file")


def run(args):
    from slimpipe.stages.latency_table import merge_latency_tables

    merge_latency_tables(args.shards, args.out, overwrite=args.overwrite)
