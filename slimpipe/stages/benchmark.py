"""Stage 5: latency of the exported model through Paddle Inference, and its metric through the same
predictor. Only `predictor.run()` is timed, as in the source documents (no pre- or post-processing)."""
from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from slimpipe import atomic, modeldir
from slimpipe.errors import SlimpipeError, fail
from slimpipe.evaluation import evaluate
from slimpipe.inference import Predictor, PredictorSettings, gpu_unavailable_reason, make_config
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


def not_measured(model: str | Path, out: str | Path, device: str, trt: bool, reason: str) -> dict[str, Any]:
    """The result a pipeline records when the GPU benchmark could not run: a reason, never a figure."""
    info = modeldir.read_info(model)
    result = {"model": str(model), "arch": info.arch, "task": info.task, "pruned": bool(info.pruning),
              "device": device, "trt": trt, "measured": False, "reason": reason}
    atomic.write_json(out, result)
    return result


def benchmark(model: str | Path, dataset: str | Path, out: str | Path, device: str = "cpu",
              mkldnn: bool = False, threads: int = 1, warmup: int = 10, repeats: int = 50,
              batch_size: int = 1, trt: bool = False, precision: str = "fp32",
              trt_cache: str | None = None) -> dict[str, Any]:
    """Benchmark one exported model; writes a JSON result to `out`."""
    if device not in ("cpu", "gpu"):
        raise fail(f"device {device!r}: expected cpu or gpu")
    if trt and device != "gpu":
        raise fail("--trt needs --device gpu")
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
    predictor = Predictor(make_config(program, params, settings))
    log("benchmark", f"{info.arch}{' (pruned)' if info.pruning else ''}: {device}, "
                     f"MKLDNN {'on' if mkldnn else 'off'}, {threads} thread(s), batch {batch_size}, "
                     f"{warmup} warm-up + {repeats} timed runs")
    latency = time_runs(predictor, task.feeds(val, np.arange(min(batch_size, len(val)))), warmup, repeats)
    metrics = evaluate(predictor, task, val, batch_size=64)
    result = {
        "model": str(model), "arch": info.arch, "task": info.task, "pruned": bool(info.pruning),
        "pruning": _pruning_summary(info), "device": device, "mkldnn": mkldnn, "threads": threads,
        "trt": trt, "precision": precision if device == "gpu" else None, "measured": True,
        "batch_size": batch_size, "warmup": warmup, "repeats": repeats, "latency_ms": latency,
        "param_file_bytes": params.stat().st_size,
        "flops": info.stats["flops"], "params": info.stats["params"],
        "metric": task.metric_name, "metric_value": metrics[task.metric_name], "metrics": metrics,
        "val_images": len(val), "host": {"machine": platform.machine(), "processor": platform.processor()},
    }
    atomic.write_json(out, result)
    log("benchmark", f"latency {latency['mean']:.2f} ms (p50 {latency['p50']:.2f}, p90 {latency['p90']:.2f}); "
                     f"{task.metric_name} {metrics[task.metric_name]:.4f}; written to {out}")
    return result


def _pruning_summary(info: modeldir.ModelInfo) -> dict[str, Any] | None:
    if not info.pruning:
        return None
    keys = ("criterion", "eval_metric_loss", "pruned_flops_target", "pruned_flops", "pruned_params",
            "align", "aligned_layers")
    return {k: info.pruning.get(k) for k in keys} | {"layers_pruned": len(info.pruning.get("ratios", {}))}
