"""Benchmark: stage 5, latency and metric through Paddle Inference (CPU, or GPU with TensorRT)."""
from kfp import dsl
from kfp.dsl import Artifact, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from slimpipe.components._image import CPU_IMAGE, GPU_IMAGE


def benchmark(model: Input[Model], dataset: Input[Dataset], result: Output[Artifact], metrics: Output[Metrics],
              confusion: Output[ClassificationMetrics], device: str = "cpu", mkldnn: bool = False,
              threads: int = 1, warmup: int = 10, repeats: int = 50, trt: bool = False,
              precision: str = "fp32", trt_dynamic_shape: str = "", trt_tune_shapes: bool = False):
    """CPU with MKLDNN off by default, as in the source documents. On a machine without a usable GPU the
    GPU benchmark records "not measured" with the reason instead of failing the run. TensorRT accepts varying
    shapes with `trt_dynamic_shape` or `trt_tune_shapes`.

    Args:
        model: the exported model.
        dataset: the dataset; its val split is used.
        device: cpu or gpu.
        mkldnn: run with MKLDNN (oneDNN) on CPU; off by default, as the sources.
        threads: CPU math threads.
        warmup: untimed runs first.
        repeats: timed runs.
        trt: GPU: run through TensorRT.
        precision: TensorRT precision, fp32, fp16 or int8.
        trt_dynamic_shape: TensorRT dynamic shape of the image input as min:opt:max, e.g.
            1x3x224x224:4x3x224x224:8x3x224x224; empty = a static shape.
        trt_tune_shapes: TensorRT: record the input shapes in a first run over the val set, then build from them.
    """
    from slimpipe.kfp_io import report_failures

    report_failures("benchmark")

    from slimpipe.kfp_io import given, log_benchmark
    from slimpipe.stages.benchmark import GpuUnavailable, not_measured
    from slimpipe.stages.benchmark import benchmark as run

    try:
        data = run(model.path, dataset.path, result.path, device=device, mkldnn=mkldnn, threads=threads,
                   warmup=warmup, repeats=repeats, trt=trt, precision=precision,
                   trt_dynamic_shape=given(trt_dynamic_shape), trt_tune_shapes=trt_tune_shapes)
    except GpuUnavailable as exc:
        data = not_measured(model.path, result.path, device, trt, str(exc))
    log_benchmark(result, metrics, confusion, data)


# One function, two images: the CPU image for CPU benchmarks, the CUDA + TensorRT image for GPU ones.
benchmark_gpu = dsl.component(base_image=GPU_IMAGE, install_kfp_package=False)(benchmark)
benchmark = dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)(benchmark)
