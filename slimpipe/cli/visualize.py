from slimpipe.cli import options

HELP = "plot the sensitivity curve (sensitivities.png, per-layer curves, curve.json, index.html)"


def add_arguments(cmd):
    cmd.add_argument("--model", required=True, help="model directory the sensitivities belong to")
    cmd.add_argument("--sensitivities", required=True, help="sensitivities JSON file")
    options.add_output(cmd, "output folder")


def run(args):
    from slimpipe.stages.visualize import visualize

    for line in visualize(args.model, args.sensitivities, args.out, overwrite=args.overwrite)["summary"]:
        print(line)
