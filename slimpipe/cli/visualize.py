from slimpipe.cli import options

HELP = "plot the sensitivity curve (sensitivities.png, per-layer curves, curve.json, index.html, latency.png)"


def add_arguments(cmd):
    from slimpipe.cli.docs import help_text

    cmd.add_argument("--model", required=True, help=f"{help_text('visualize', 'model')} (directory)")
    cmd.add_argument("--sensitivities", required=True,
                     help=f"sensitivities JSON file: {help_text('visualize', 'sensitivities')}")
    # The component's text is about the pipeline's "none asked for" record; the command line says what it draws.
    cmd.add_argument("--latency-table", help="latency table of the model (`slimpipe latency-table`): also draws "
                                             "latency.png, the latency each layer saves against its loss")
    options.add_output(cmd, "output folder")


def run(args):
    from slimpipe.stages.visualize import visualize

    for line in visualize(args.model, args.sensitivities, args.out, latency_table=args.latency_table,
                          overwrite=args.overwrite)["summary"]:
        print(line)
