from slimpipe.cli import options

HELP = "copy (or download from object storage) a dataset and check its list files, as the pipeline's first step"


def add_arguments(cmd):
    from slimpipe import defaults
    from slimpipe.cli.docs import help_text

    cmd.add_argument("--dataset", required=True, help=help_text("ingest", "dataset_uri"))
    cmd.add_argument("--task", default=defaults.TASK, help=help_text("ingest", "task", defaults.TASK))
    options.add_output(cmd, "dataset folder to write")


def run(args):
    from slimpipe.stages.ingest import ingest

    ingest(args.dataset, args.out, task=args.task, overwrite=args.overwrite)
