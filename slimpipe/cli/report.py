from slimpipe.cli import options

HELP = "the comparison table (model, parameter file size, prediction speed, metric) as Markdown"


def add_arguments(cmd):
    from slimpipe.cli.docs import help_text

    for name, required in (("base", True), ("pruned", True), ("gpu_base", False), ("gpu_pruned", False)):
        cmd.add_argument(f"--{name.replace('_', '-')}", required=required, default=None,
                         help=f"{help_text('report', name)} (JSON)")
    options.add_output(cmd, "Markdown file to write")
    cmd.add_argument("--chart", default=None, help="also draw the comparison as a PNG here")


def run(args):
    from slimpipe.stages.report import report

    print(report(args.base, args.pruned, args.out, gpu_base=args.gpu_base, gpu_pruned=args.gpu_pruned, chart=args.chart,
                 overwrite=args.overwrite).text)
