"""Stage 5: latency of the exported model through Paddle Inference, and its metric through the same
predictor. Only `predictor.run()` is timed, as in the source documents (no pre- or post-processing)."""
from __future__ import annotations

import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from slimpipe import atomic, defaults, modeldir
from slimpipe.benchmark_result import FORMAT, BenchmarkResult
from slimpipe.errors import SlimpipeError, fail
from slimpipe.evaluation import evaluate
from slimpipe.inference import (Predictor, PredictorSettings, gpu_unavailable_reason, open_predictor,
                                parse_dynamic_shape)
from slimpipe.progress import Progress, log
from slimpipe.stages.common import load_split_for
from slimpipe.tasks import get_task


def time_runs(predictor: Predictor, feeds: list[np.ndarray], warmup: int, repeats: int) -> dict[str, float]:
    """Milliseconds per `run()` after `warmup` untimed runs: mean, p50, p90, std, min."""
    if warmup < 0 or repeats < 1:
        raise fail(f"warmup must be >= 0 and repeats >= 1 (got {warmup}, {repeats})")
    predictor.feed(feeds)
    for _ in range(warmup):
        predictor.run()
    times = np.empty(repeats)
    progress = Progress("benchmark", repeats, every=5.0)
    for i in range(repeats):
        start = time.perf_counter()
        predictor.run()
        times[i] = (time.perf_counter() - start) * 1000.0
        progress.update()
    return {"mean": float(times.mean()), "p50": float(np.percentile(times, 50)),
            "p90": float(np.percentile(times, 90)), "std": float(times.std()), "min": float(times.min())}


class GpuUnavailable(SlimpipeError):
    """The GPU benchmark cannot run on this machine; the message says which of the three reasons."""


def not_measured(model: str | Path, out: str | Path, device: str, trt: bool, reason: str) -> BenchmarkResult:
    """The result a pipeline records when the GPU benchmark could not run: a reason, never a figure."""
    info = modeldir.read_info(model)
    result = BenchmarkResult(model=str(model), arch=info.arch, task=info.task, pruned=bool(info.pruning),
                             device=device, trt=trt, measured=False, reason=reason)
    result.write(out)
    return result


def benchmark(model: str | Path, dataset: str | Path, out: str | Path, device: str = defaults.BENCHMARK_DEVICE,
              mkldnn: bool = defaults.BENCHMARK_MKLDNN, threads: int = defaults.BENCHMARK_THREADS,
              warmup: int = defaults.BENCHMARK_WARMUP, repeats: int = defaults.BENCHMARK_REPEATS,
              batch_size: int = defaults.BENCHMARK_BATCH_SIZE, trt: bool = False,
              precision: str = defaults.TRT_PRECISION,
              trt_cache: str | None = None, trt_dynamic_shape: str | None = None,
              trt_tune_shapes: bool = False, overwrite: bool = False) -> BenchmarkResult:
    """Benchmark one exported model; writes a JSON result to `out`. `trt_dynamic_shape` (min:opt:max of the
    image input) or `trt_tune_shapes` (shapes recorded by a first run over the val set) make the TensorRT
    engine accept varying shapes."""
    claim_result(out, model, dataset, overwrite)
    if device not in ("cpu", "gpu"):
        raise fail(f"device {device!r}: expected cpu or gpu")
    if trt and device != "gpu":
        raise fail("--trt needs --device gpu")
    if (trt_dynamic_shape or trt_tune_shapes) and not trt:
        raise fail("--trt-dynamic-shape and --trt-tune-shapes need --trt")
    if trt_dynamic_shape and trt_tune_shapes:
        raise fail("give either --trt-dynamic-shape or --trt-tune-shapes, not both")
    if trt and batch_size > 1 and not (trt_dynamic_shape or trt_tune_shapes):
        raise fail(f"--batch-size {batch_size} with --trt needs --trt-dynamic-shape or --trt-tune-shapes "
                   "(a static engine is built for batch 1)")
    if device == "gpu":
        reason = gpu_unavailable_reason(trt)
        if reason:
            raise GpuUnavailable(f"GPU benchmark not possible: {reason}")
    info = modeldir.read_info(model)
    task = get_task(info.task)
    val = load_split_for(info, dataset, "val")
    settings = PredictorSettings(device=device, mkldnn=mkldnn, threads=threads, trt=trt, precision=precision,
                                 trt_cache=trt_cache)
    program, params = modeldir.inference_paths(model)
    if trt_dynamic_shape:
        settings = replace(settings, trt_dynamic_shapes=dynamic_shapes(task, info, trt_dynamic_shape, batch_size))
    # A TensorRT engine is built for the shapes it is given: evaluate at the timed batch size there.
    eval_batch = batch_size if trt else 64
    timed = task.feeds(val, np.arange(min(batch_size, len(val))))
    log("benchmark", f"{info.arch}{' (pruned)' if info.pruning else ''}: {device}, "
                     f"MKLDNN {'on' if mkldnn else 'off'}, {threads} thread(s), batch {batch_size}, "
                     f"{warmup} warm-up + {repeats} timed runs")
    with tempfile.TemporaryDirectory() as tmp:
        if trt_tune_shapes:
            shape_file = str(Path(trt_cache or tmp) / "shape_range_info.pbtxt")
            tune_shapes(program, params, replace(settings, trt=False, collect_shapes=shape_file), task, val,
                        eval_batch, timed)
            settings = replace(settings, trt_tuned_shapes=shape_file)
        predictor = open_predictor(program, params, settings)
        latency = time_runs(predictor, timed, warmup, repeats)
        metrics = evaluate(predictor, task, val, batch_size=eval_batch)
    result = BenchmarkResult(
        model=str(model), arch=info.arch, task=info.task, pruned=bool(info.pruning),
        pruning=_pruning_summary(info), device=device, mkldnn=mkldnn, threads=threads,
        trt=trt, precision=precision if device == "gpu" else None, measured=True,
        batch_size=batch_size, warmup=warmup, repeats=repeats, latency_ms=latency,
        param_file_bytes=params.stat().st_size, flops=info.stats["flops"], params=info.stats["params"],
        metric=task.metric_name, metric_value=metrics[task.metric_name], metrics=metrics,
        classes=info.classes, val_images=len(val), trt_shapes=_shape_mode(trt_dynamic_shape, trt_tune_shapes),
        host={"machine": platform.machine(), "processor": platform.processor()},
    )
    result.write(out)
    log("benchmark", f"latency {latency['mean']:.2f} ms (p50 {latency['p50']:.2f}, p90 {latency['p90']:.2f}); "
                     f"{task.metric_name} {metrics[task.metric_name]:.4f}; written to {out}")
    return result


def claim_result(out: str | Path, model: str | Path, dataset: str | Path | None, overwrite: bool = False) -> None:
    """The output rule (atomic.claim) for a benchmark result file."""
    atomic.claim(out, "benchmark", {"model": model, "dataset": dataset}, overwrite, folder=False,
                 ours=atomic.json_tagged(FORMAT))


def dynamic_shapes(task, info: modeldir.ModelInfo, text: str, batch_size: int) -> dict[str, tuple]:
    """(min, opt, max) per model input from the image's `min:opt:max`; other inputs follow its batch sizes.
    Refuses a range that excludes the shape the benchmark feeds."""
    low, opt, high = parse_dynamic_shape(text)
    shapes = task.input_shapes(info.input_size)
    fed = [batch_size, *shapes["image"]]
    if len(low) != len(fed) or not all(a <= f <= c for a, f, c in zip(low, fed, high)):
        raise fail(f"TensorRT dynamic shape {text!r} does not cover the benchmark's input {'x'.join(map(str, fed))}")
    return {name: (low, opt, high) if name == "image" else tuple([b[0], *shape] for b in (low, opt, high))
            for name, shape in shapes.items()}


def tune_shapes(program: Path, params: Path, settings: PredictorSettings, task, val, batch: int,
                timed: list[np.ndarray]) -> None:
    """Paddle's shape tuning: with shape collection on, run the timed input and the val set in the batches
    the benchmark will use, writing the shape range file the TensorRT engine is then built from."""
    predictor = open_predictor(program, params, settings)
    predictor(timed)
    for start in range(0, len(val), batch):
        predictor(task.feeds(val, np.arange(start, min(start + batch, len(val)))))
    log("benchmark", f"TensorRT shapes tuned over {len(val)} images: {settings.collect_shapes}")


def _shape_mode(dynamic: str | None, tune: bool) -> str | None:
    return f"dynamic {dynamic}" if dynamic else ("tuned" if tune else None)


def _pruning_summary(info: modeldir.ModelInfo) -> dict[str, Any] | None:
    if not info.pruning:
        return None
    keys = ("criterion", "eval_metric_loss", "pruned_flops_target", "pruned_flops", "pruned_params",
            "align", "aligned_layers", "aligned_to", "target_speedup", "target_latency_ms", "latency_plan",
            "max_layer_loss",
            "base_ms", "predicted_ms", "measured_ms")
    return {k: info.pruning.get(k) for k in keys} | {"layers_pruned": len(info.pruning.get("ratios", {})),
                                                     "latency_iterations": len(info.pruning.get("iterations") or [])}
