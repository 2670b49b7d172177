HELP = "compile the pipeline to a Kubeflow Pipelines YAML package"


def add_arguments(cmd):
    cmd.add_argument("--out", default="pipelines/prune_pipeline.yaml", help="YAML file to write")
    cmd.add_argument("--components", action="store_true",
                     help="also recompile every components/<stage>/component.yaml in place")


def run(args):
    from slimpipe.kfp_pipeline import compile_components, compile_pipeline
    from slimpipe.progress import log

    log("compile", f"pipeline written to {compile_pipeline(args.out)}")
    if args.components:
        for path in compile_components():
            log("compile", f"component written to {path}")
