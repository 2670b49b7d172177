"""Filling Kubeflow artifacts (Metrics, ClassificationMetrics, metadata) from stage results, so the
component bodies stay a few lines."""
from __future__ import annotations

from typing import Any


def log_model(model_artifact: Any, metrics: Any, info: Any) -> None:
    """Model metadata and Metrics: the validation metric, FLOPs, parameters, pruned shares."""
    from slimpipe.tasks import get_task

    metric = get_task(info.task).metric_name
    model_artifact.metadata.update({"task": info.task, "arch": info.arch, "input_size": info.input_size,
                                    "framework": "paddle", "pruned": bool(info.pruning)})
    metrics.log_metric(metric, float(info.metrics[metric]))
    metrics.log_metric("flops", float(info.stats["flops"]))
    metrics.log_metric("params", float(info.stats["params"]))
    if info.pruning:
        metrics.log_metric("pruned_flops", float(info.pruning["pruned_flops"]))
        metrics.log_metric("pruned_params", float(info.pruning["pruned_params"]))


def log_benchmark(result: Any, metrics: Any, confusion: Any, data: dict[str, Any]) -> None:
    """Latency, size and metric as Metrics; the confusion matrix for classification."""
    result.metadata.update({"device": data["device"], "pruned": data["pruned"], "measured": data["measured"]})
    if not data["measured"]:
        result.metadata["reason"] = data["reason"]
        return
    metrics.log_metric(data["metric"], float(data["metric_value"]))
    for key in ("mean", "p50", "p90", "std"):
        metrics.log_metric(f"latency_ms_{key}", float(data["latency_ms"][key]))
    metrics.log_metric("param_file_bytes", float(data["param_file_bytes"]))
    metrics.log_metric("flops", float(data["flops"]))
    metrics.log_metric("params", float(data["params"]))
    matrix = data["metrics"].get("confusion_matrix")
    if matrix:
        from slimpipe import modeldir

        classes = modeldir.read_info(data["model"]).classes
        size = len(matrix)
        confusion.log_confusion_matrix(classes[:size], matrix)
