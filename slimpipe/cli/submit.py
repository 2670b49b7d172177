from slimpipe.cli import pipeline_params

HELP = "submit one pipeline run to a Kubeflow Pipelines installation"


def add_arguments(cmd):
    cmd.add_argument("--host", required=True, help="Kubeflow Pipelines API endpoint, e.g. http://localhost:8080")
    cmd.add_argument("--namespace", default=None, help="Kubeflow profile namespace (multi-user installs)")
    cmd.add_argument("--experiment", default="slimpipe", help="experiment name (created if missing)")
    cmd.add_argument("--run-name", default=None, help="run name (default: slimpipe-<timestamp>)")
    cmd.add_argument("--no-cache", action="store_true", help="disable caching for every step of this run")
    pipeline_params.add_arguments(cmd)


def run(args):
    from slimpipe.kfp_client import submit
    from slimpipe.pipelines.build import pipeline_func

    submit(args.host, pipeline_func(), pipeline_params.from_args(args), experiment=args.experiment,
           run_name=args.run_name, namespace=args.namespace, enable_caching=not args.no_cache)
