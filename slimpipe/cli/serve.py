from slimpipe.cli import options

HELP = "serve an exported model on the Open Inference Protocol v2 (kserve's ModelServer, Paddle Inference)"


def add_arguments(cmd):
    from slimpipe.serving import DEFAULT_HOST, DEFAULT_PORT, NAME_RULE

    cmd.add_argument("--model", required=True,
                     help="folder with exactly one .pdmodel and one .pdiparams file (as KServe's paddle runtime "
                          "loads), a slimpipe model directory, or an object-store URI of either (s3://bucket/prefix)")
    cmd.add_argument("--name", required=True, help=f"model name in the URLs, /v2/models/NAME ({NAME_RULE})")
    cmd.add_argument("--port", type=options.bounded(int, 1, 65535), default=DEFAULT_PORT,
                     help=f"HTTP port (default {DEFAULT_PORT})")
    cmd.add_argument("--host", default=DEFAULT_HOST,
                     help=f"address to listen on (default {DEFAULT_HOST}; 0.0.0.0 for every interface)")
    cmd.add_argument("--threads", type=options.COUNT, default=1, help="CPU math threads per predictor (default 1)")
    cmd.add_argument("--parallel", type=options.COUNT, default=1,
                     help="inferences run at once, each on its own predictor (clones sharing the weights; default 1)")
    cmd.add_argument("--no-mkldnn", dest="mkldnn", action="store_false",
                     help="run without MKLDNN (oneDNN), as the benchmark does by default; serving uses it otherwise")
    cmd.add_argument("--download-dir", default=None,
                     help="for an s3:// model: download it into this folder (its model/ subfolder) and keep it; "
                          "default: a private temporary folder removed when the server stops")


def run(args):
    from slimpipe.serving import load_kserve

    load_kserve()  # before any download or model load: a missing extra fails first, naming it
    from slimpipe.serving.server import serve

    serve(args.model, args.name, port=args.port, host=args.host, threads=args.threads, mkldnn=args.mkldnn,
          parallel=args.parallel, download_dir=args.download_dir)
