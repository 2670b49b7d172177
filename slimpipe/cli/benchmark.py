from slimpipe.cli import options

HELP = "latency and metric of an exported model through Paddle Inference"


def add_arguments(cmd):
    cmd.add_argument("--model", required=True, help="model directory")
    cmd.add_argument("--dataset", required=True, help="dataset folder; its val split is used")
    cmd.add_argument("--device", default="cpu", choices=("cpu", "gpu"), help="cpu (default) or gpu")
    cmd.add_argument("--trt", action="store_true", help="GPU: run through TensorRT")
    cmd.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "int8"), help="TensorRT precision")
    cmd.add_argument("--trt-cache", default=None, help="TensorRT: folder for serialized engines (static cache)")
    shapes = cmd.add_mutually_exclusive_group()
    shapes.add_argument("--trt-dynamic-shape", default=None, metavar="MIN:OPT:MAX",
                        help="TensorRT dynamic shape of the image input, e.g. 1x3x224x224:4x3x224x224:8x3x224x224")
    shapes.add_argument("--trt-tune-shapes", action="store_true",
                        help="TensorRT: record the input shapes in a first run over the val set, then build from them")
    cmd.add_argument("--mkldnn", type=options.on_off, default=False, help="on|off (default off, as the sources)")
    cmd.add_argument("--threads", type=options.COUNT, default=1, help="CPU math threads (default 1)")
    cmd.add_argument("--warmup", type=options.NON_NEGATIVE, default=10, help="untimed runs first (default 10)")
    cmd.add_argument("--repeats", type=options.COUNT, default=50, help="timed runs (default 50)")
    cmd.add_argument("--batch-size", type=options.COUNT, default=1, help="images per timed run (default 1)")
    options.add_output(cmd, "benchmark JSON file")


def run(args):
    from slimpipe.stages.benchmark import benchmark

    benchmark(args.model, args.dataset, args.out, device=args.device, mkldnn=args.mkldnn, threads=args.threads,
              warmup=args.warmup, repeats=args.repeats, batch_size=args.batch_size, trt=args.trt,
              precision=args.precision, trt_cache=args.trt_cache, trt_dynamic_shape=args.trt_dynamic_shape,
              trt_tune_shapes=args.trt_tune_shapes, overwrite=args.overwrite)
