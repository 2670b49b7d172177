from slimpipe.atomic import OVERWRITE_HELP
from slimpipe.cli import pipeline_params

HELP = "run the whole pipeline on this machine through Kubeflow Pipelines' local runner"


def add_arguments(cmd):
    pipeline_params.add_arguments(cmd)
    cmd.add_argument("--root", default="runs", help="local pipeline root for every artifact (default runs/)")
    cmd.add_argument("--out", default="runs/latest", help="folder for the main results (default runs/latest)")
    cmd.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    from slimpipe.kfp_pipeline import RUNNERS

    cmd.add_argument("--runner", default=RUNNERS[0], choices=RUNNERS,
                     help="subprocess: each step in this environment (default); container: each step in its image "
                          "through a Docker API (DOCKER_HOST: docker, or podman's)")


def run(args):
    from pathlib import Path

    from slimpipe import atomic
    from slimpipe.kfp_pipeline import collect, run_local
    from slimpipe.pipelines.build import pipeline_func
    from slimpipe.progress import log

    params = pipeline_params.from_args(args)
    atomic.claim(args.out, "run", {"dataset": params["dataset"]}, args.overwrite)
    run_dir = run_local(pipeline_func(), params, args.root, args.runner)
    outputs = collect(run_dir, Path(args.out))
    print(outputs["report.md"].read_text())
    log("run", f"all artifacts: {run_dir}")
    for name, path in outputs.items():
        log("run", f"{name:<28} {path}")
