from slimpipe.cli import pipeline_params

HELP = "schedule recurring pipeline runs (retraining) on Kubeflow Pipelines"


def add_arguments(cmd):
    cmd.add_argument("--host", required=True, help="Kubeflow Pipelines API endpoint")
    cmd.add_argument("--namespace", default=None, help="Kubeflow profile namespace (multi-user installs)")
    cmd.add_argument("--cron", required=True,
                     help='six fields, seconds first: "0 0 2 * * 0" = Sundays at 02:00')
    cmd.add_argument("--name", default="slimpipe-retrain", help="recurring run name")
    cmd.add_argument("--experiment", default="slimpipe", help="experiment name (created if missing)")
    cmd.add_argument("--no-catchup", action="store_true", help="skip runs missed while paused")
    cmd.add_argument("--max-concurrency", type=int, default=1, help="runs allowed at once (default 1)")
    pipeline_params.add_arguments(cmd)


def run(args):
    from slimpipe.kfp_client import schedule
    from slimpipe.pipelines.build import pipeline_func

    schedule(args.host, pipeline_func(), pipeline_params.from_args(args), cron=args.cron, name=args.name,
             experiment=args.experiment, no_catchup=args.no_catchup, max_concurrency=args.max_concurrency,
             namespace=args.namespace)
