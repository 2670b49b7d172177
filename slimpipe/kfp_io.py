"""Filling Kubeflow artifacts (Metrics, ClassificationMetrics, metadata) from stage results, so the
component bodies stay a few lines."""
from __future__ import annotations

from pathlib import Path
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


def log_benchmark(result: Any, metrics: Any, confusion: Any, data: Any) -> None:
    """Latency, size and metric of a BenchmarkResult as Metrics; the confusion matrix for classification."""
    result.metadata.update({"device": data.device, "pruned": data.pruned, "measured": data.measured})
    if not data.measured:
        result.metadata["reason"] = data.reason
        return
    metrics.log_metric(data.metric, float(data.metric_value))
    for key in ("mean", "p50", "p90", "std"):
        metrics.log_metric(f"latency_ms_{key}", float(data.latency_ms[key]))
    metrics.log_metric("param_file_bytes", float(data.param_file_bytes))
    metrics.log_metric("flops", float(data.flops))
    metrics.log_metric("params", float(data.params))
    matrix = (data.metrics or {}).get("confusion_matrix")
    if matrix:
        from slimpipe import modeldir

        classes = modeldir.read_info(data.model).classes
        size = len(matrix)
        confusion.log_confusion_matrix(classes[:size], matrix)


def log_figures(metrics: Any, figures: dict[str, float]) -> None:
    """Each figure (name -> number, e.g. a Comparison's `figures()`) as a metric of a Metrics artifact."""
    for name, value in figures.items():
        metrics.log_metric(name, float(value))


def fill_html(artifact: Any, png: str | Path, alt: str, body: str = "") -> None:
    """Write an HTML artifact: a self-contained page showing the chart `png` (embedded), then `body` (HTML)."""
    from slimpipe.analysis.plots import embedded_png

    Path(artifact.path).write_text(f"<!doctype html><html><body>{embedded_png(png, alt)}{body}</body></html>")


def given(value: Any) -> Any:
    """A parameter a pipeline passed, or None where it passed the kfp way of "not given": a component's
    optional string or number input defaults to "" or 0 (kfp parameters cannot be None)."""
    return value or None


def path_of(artifact: Any) -> str | None:
    """The local path of an optional input artifact, or None where none was connected."""
    return artifact.path if artifact is not None else None


FAILURE_LOG = "SLIMPIPE_FAILURE_LOG"


def report_failures(step: str) -> None:
    """Called first in a component's body: an uncaught SlimpipeError ends the step with its one-line
    message on stderr and no traceback; any other exception keeps its traceback. Either way the cause is
    appended, as a JSON line {"step", "message"}, to the file named by SLIMPIPE_FAILURE_LOG when set, so
    that `slimpipe run` can end on it."""
    import os
    import sys

    from slimpipe.errors import SlimpipeError

    default = sys.excepthook

    def hook(kind, exc, tb):
        deterministic = isinstance(exc, SlimpipeError)
        message = str(exc) if deterministic else f"{kind.__name__}: {exc}"
        path = os.environ.get(FAILURE_LOG)
        if path:
            import json

            with open(path, "a") as f:
                f.write(json.dumps({"step": step, "message": message}) + "\n")
        if deterministic:
            print(f"[{step}] error: {message}", file=sys.stderr, flush=True)
        else:
            default(kind, exc, tb)

    sys.excepthook = hook


def failures(path: str) -> list[dict[str, str]]:
    """The causes that steps recorded in a failure log (`report_failures`), oldest first."""
    import json

    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        return []
