from slimpipe.cli import options

HELP = ("publish results and a KServe manifest to <to>/<run-id>/ (bucket or folder), then latest.json if the "
        "quality gate passes and no newer run is there")


def add_arguments(cmd):
    from slimpipe.cli.docs import help_text
    from slimpipe.defaults import MAX_DROP_POINTS
    from slimpipe.stages.publish import SERVICE_ACCOUNT

    def text(name, default=None):
        return help_text("publish", name, default)

    # The command line's names for the component's parameters: --to publish_to, --model pruned_model, ...
    cmd.add_argument("--to", required=True, help=text("publish_to"))
    cmd.add_argument("--run-id", required=True, help="name of the run's folder there (letters, digits, . _ -)")
    cmd.add_argument("--model", required=True, help=f"{text('pruned_model')} (directory)")
    cmd.add_argument("--base", required=True, help=f"{text('base_result')} (JSON)")
    cmd.add_argument("--pruned", required=True, help=f"{text('pruned_result')} (JSON)")
    cmd.add_argument("--sensitivities", default=None, help=f"{text('sensitivities')} (JSON)")
    cmd.add_argument("--plots", default=None, help=f"{text('plots')} (slimpipe visualize --out)")
    cmd.add_argument("--report", default=None, help=f"{text('report')} (Markdown)")
    cmd.add_argument("--max-drop-points", type=options.FINITE, default=MAX_DROP_POINTS,
                     help=text("max_drop_points", MAX_DROP_POINTS))
    cmd.add_argument("--created", default=None,
                     help="when the run was created, ISO-8601 UTC (e.g. 2026-06-01T12:00:00Z; default now): "
                          "latest.json never moves to a run created before the one it names")
    cmd.add_argument("--service-account", default=SERVICE_ACCOUNT,
                     help=f"service account of the InferenceService, holding the S3 secret KServe reads "
                          f"(default {SERVICE_ACCOUNT}; manifests/serving/ creates it)")


def run(args):
    from slimpipe.stages.publish import publish, run_files

    files = run_files(args.model, args.base, args.pruned, sensitivities=args.sensitivities, plots=args.plots,
                      report=args.report)
    publish(args.to, args.run_id, files, files["benchmark_base.json"], files["benchmark_pruned.json"],
            max_drop_points=args.max_drop_points, created=args.created, service_account=args.service_account)
