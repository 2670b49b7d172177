from slimpipe.cli import options

HELP = "plot the sensitivity curve (sensitivities.png, per-layer curves, curve.json, index.html, latency.png)"


def add_arguments(cmd):
    cmd.add_argument("--model", required=True, help="model directory the sensitivities belong to")
    cmd.add_argument("--sensitivities", required=True, help="sensitivities JSON file")
    cmd.add_argument("--latency-table", help="latency table of the model (`slimpipe latency-table`): also draws "
                                             "latency.png, the latency each layer saves against its loss")
    options.add_output(cmd, "output folder")


def run(args):
    from slimpipe.stages.visualize import visualize

    for line in visualize(args.model, args.sensitivities, args.out, latency_table=args.latency_table,
                          overwrite=args.overwrite)["summary"]:
        print(line)
