"""Benchmark: stage 5, latency and metric through Paddle Inference (CPU, or GPU with TensorRT)."""
from kfp import dsl
from kfp.dsl import Artifact, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from components._image import CPU_IMAGE, GPU_IMAGE


def benchmark(model: Input[Model], dataset: Input[Dataset], result: Output[Artifact], metrics: Output[Metrics],
              confusion: Output[ClassificationMetrics], device: str = "cpu", mkldnn: bool = False,
              threads: int = 1, warmup: int = 10, repeats: int = 50, trt: bool = False,
              precision: str = "fp32", trt_dynamic_shape: str = "", trt_tune_shapes: bool = False):
    """CPU with MKLDNN off by default, as in the source documents. On a machine without a usable GPU the
    GPU benchmark records "not measured" with the reason instead of failing the run. TensorRT shapes:
    `trt_dynamic_shape` as min:opt:max (e.g. 1x3x224x224:1x3x224x224:4x3x224x224) or `trt_tune_shapes`."""
    from slimpipe.kfp_io import report_failures

    report_failures("benchmark")

    from slimpipe.kfp_io import log_benchmark
    from slimpipe.stages.benchmark import GpuUnavailable, not_measured
    from slimpipe.stages.benchmark import benchmark as run

    try:
        data = run(model.path, dataset.path, result.path, device=device, mkldnn=mkldnn, threads=threads,
                   warmup=warmup, repeats=repeats, trt=trt, precision=precision,
                   trt_dynamic_shape=trt_dynamic_shape or None, trt_tune_shapes=trt_tune_shapes)
    except GpuUnavailable as exc:
        data = not_measured(model.path, result.path, device, trt, str(exc))
    log_benchmark(result, metrics, confusion, data)


# One function, two images: the CPU image for CPU benchmarks, the CUDA + TensorRT image for GPU ones.
benchmark_gpu = dsl.component(base_image=GPU_IMAGE, install_kfp_package=False)(benchmark)
benchmark = dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)(benchmark)
