from slimpipe.cli import options

HELP = "the comparison table (model, parameter file size, prediction speed, metric) as Markdown"


def add_arguments(cmd):
    cmd.add_argument("--base", required=True, help="benchmark JSON of the unpruned model")
    cmd.add_argument("--pruned", required=True, help="benchmark JSON of the pruned model")
    cmd.add_argument("--gpu-base", default=None, help="GPU benchmark JSON of the unpruned model (optional)")
    cmd.add_argument("--gpu-pruned", default=None, help="GPU benchmark JSON of the pruned model (optional)")
    options.add_output(cmd, "Markdown file to write")
    cmd.add_argument("--chart", default=None, help="also draw the comparison as a PNG here")


def run(args):
    from slimpipe.stages.report import report

    print(report(args.base, args.pruned, args.out, gpu_base=args.gpu_base, gpu_pruned=args.gpu_pruned, chart=args.chart,
                 overwrite=args.overwrite))
