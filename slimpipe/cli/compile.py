HELP = "compile the pipeline to a Kubeflow Pipelines YAML package"
IN_PLACE = ""  # --components without a folder


def add_arguments(cmd):
    cmd.add_argument("--out", default="pipelines/prune_pipeline.yaml", help="YAML file to write")
    cmd.add_argument("--components", nargs="?", const=IN_PLACE, default=None, metavar="DIR",
                     help="also recompile every components/<stage>/component.yaml and README: in place (a source "
                          "checkout only), or under DIR")


def run(args):
    from slimpipe.pipelines.build import compile_components, compile_pipeline, in_place_root
    from slimpipe.progress import log

    if args.components == IN_PLACE:
        in_place_root()  # refused before anything is written when the components are an installed package
    log("compile", f"pipeline written to {compile_pipeline(args.out)}")
    if args.components is not None:
        for path in compile_components(args.components or None):
            log("compile", f"component written to {path}")
