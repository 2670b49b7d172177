from slimpipe.cli import options

HELP = "copy (or download from object storage) a dataset and check its list files, as the pipeline's first step"


def add_arguments(cmd):
    cmd.add_argument("--dataset", required=True, help="dataset folder or object-store URI (s3://bucket/prefix)")
    cmd.add_argument("--task", default="classification", help="classification (default), segmentation or detection")
    options.add_output(cmd, "dataset folder to write")


def run(args):
    from slimpipe.stages.ingest import ingest

    ingest(args.dataset, args.out, task=args.task, overwrite=args.overwrite)
