from slimpipe.cli import options

HELP = "latency and metric of an exported model through Paddle Inference"


def add_arguments(cmd):
    from slimpipe import defaults as d
    from slimpipe.cli.docs import help_text

    def text(name, default=None):
        return help_text("benchmark", name, default)

    cmd.add_argument("--model", required=True, help=text("model"))
    cmd.add_argument("--dataset", required=True, help=text("dataset"))
    cmd.add_argument("--device", default=d.BENCHMARK_DEVICE, choices=("cpu", "gpu"),
                     help=text("device", d.BENCHMARK_DEVICE))
    cmd.add_argument("--trt", action="store_true", help=text("trt"))
    cmd.add_argument("--precision", default=d.TRT_PRECISION, choices=("fp32", "fp16", "int8"),
                     help=text("precision", d.TRT_PRECISION))
    cmd.add_argument("--trt-cache", default=None, help="TensorRT: folder for serialized engines (static cache)")
    shapes = cmd.add_mutually_exclusive_group()
    shapes.add_argument("--trt-dynamic-shape", default=None, metavar="MIN:OPT:MAX", help=text("trt_dynamic_shape"))
    shapes.add_argument("--trt-tune-shapes", action="store_true", help=text("trt_tune_shapes"))
    cmd.add_argument("--mkldnn", type=options.on_off, default=d.BENCHMARK_MKLDNN,
                     help=f"on|off: {text('mkldnn')}")
    cmd.add_argument("--threads", type=options.COUNT, default=d.BENCHMARK_THREADS,
                     help=text("threads", d.BENCHMARK_THREADS))
    cmd.add_argument("--warmup", type=options.NON_NEGATIVE, default=d.BENCHMARK_WARMUP,
                     help=text("warmup", d.BENCHMARK_WARMUP))
    cmd.add_argument("--repeats", type=options.COUNT, default=d.BENCHMARK_REPEATS,
                     help=text("repeats", d.BENCHMARK_REPEATS))
    cmd.add_argument("--batch-size", type=options.COUNT, default=d.BENCHMARK_BATCH_SIZE,
                     help=f"images per timed run (default {d.BENCHMARK_BATCH_SIZE})")
    options.add_output(cmd, "benchmark JSON file")


def run(args):
    from slimpipe.stages.benchmark import benchmark

    benchmark(args.model, args.dataset, args.out, device=args.device, mkldnn=args.mkldnn, threads=args.threads,
              warmup=args.warmup, repeats=args.repeats, batch_size=args.batch_size, trt=args.trt,
              precision=args.precision, trt_cache=args.trt_cache, trt_dynamic_shape=args.trt_dynamic_shape,
              trt_tune_shapes=args.trt_tune_shapes, overwrite=args.overwrite)
