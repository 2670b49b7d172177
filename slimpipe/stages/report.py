"""Stage 6: the source documents' comparison table from two benchmark results."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slimpipe import atomic
from slimpipe.benchmark_result import BenchmarkResult, Comparison, comparison
from slimpipe.models.registry import arch_title

TITLE = "# Pruning report: "
METRIC_TITLES = {"accuracy": "Accuracy", "miou": "mIoU", "map": "mAP", "pixel_accuracy": "Pixel accuracy",
                 "class_iou": "IoU", "class_ap": "AP"}


def read_benchmark(path: str | Path, measured: bool = True) -> BenchmarkResult:
    """A benchmark result; with `measured`, one that holds figures (not a "not measured" record)."""
    return BenchmarkResult.read(path, measured)


@dataclass
class Report:
    """What the report stage wrote: the Markdown, the comparison it states, and the chart when drawn."""

    text: str
    comparison: Comparison
    base: BenchmarkResult
    pruned: BenchmarkResult
    chart: Path | None = None


def size_text(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.2f}M" if n_bytes >= 1e5 else f"{n_bytes / 1e3:.1f}K"


def speed_text(ms: float) -> str:
    return f"{ms / 1000:.3f}s ({ms:.2f} ms)"


def render(base: BenchmarkResult, pruned: BenchmarkResult, extra_rows: list[str] | None = None) -> str:
    """Markdown: the reference table (model, parameter file size, prediction speed, metric) and a summary."""
    c = comparison(base, pruned)
    name = arch_title(base.arch)
    metric = METRIC_TITLES.get(c.metric, c.metric)
    setting = (f"{base.device.upper()}, MKLDNN {'enabled' if base.mkldnn else 'disabled'}, "
               f"{base.threads} thread(s), batch {base.batch_size}, mean of {base.repeats} runs after "
               f"{base.warmup} warm-up; prediction time excludes pre- and post-processing")
    lines = [
        f"{TITLE}{name}", "",
        f"Prediction: {setting}.", "",
        f"| Model | Parameter file size | Prediction speed | {metric} |",
        "| :--- | :--- | :--- | :--- |",
        f"| {name} | {size_text(base.param_file_bytes)} | {speed_text(base.latency_mean_ms)} "
        f"| {base.metric_value:.4f} |",
        f"| {name} (pruned by {100 * c.pruned_params:.0f}%) | {size_text(pruned.param_file_bytes)} "
        f"| {speed_text(pruned.latency_mean_ms)} | {pruned.metric_value:.4f} |",
        *(extra_rows or []), "",
        f"- Parameters pruned: {100 * c.pruned_params:.1f}%; FLOPs pruned: {100 * c.pruned_flops:.1f}%",
        f"- Speed-up: {c.speedup:.2f}x ({c.latency_ms_base:.2f} ms -> {c.latency_ms_pruned:.2f} ms, "
        f"measured in the same run)",
        f"- Speed-up efficiency (speed-up / FLOPs ratio): {c.speedup_efficiency:.2f} "
        f"({c.speedup:.2f}x faster for {c.flops_ratio:.2f}x fewer FLOPs)",
        f"- {metric} change: {-c.metric_drop_points:+.2f} points",
        *secondary_metrics(base, pruned),
    ]
    p = pruned.pruning_summary
    if p:
        lines.append(f"- Pruning: {target_text(p)}, criterion {p.get('criterion')}, {p.get('layers_pruned')} layers "
                     "pruned, " + (f"widths aligned to multiples of {p['align']}" if p.get("align")
                                   else "widths not aligned"))
        lines += latency_lines(p, c)
        if p.get("aligned_to"):
            lines.append(f"- Pruned layers whose kept width is a multiple of {p['aligned_to']} (GPU-friendly): "
                         f"{p.get('aligned_layers')} of {p.get('layers_pruned')}")
    return "\n".join(lines) + "\n"


def target_text(p: dict[str, Any]) -> str:
    """What the pruning aimed at, from a benchmark's pruning summary (with the latency plan where recorded)."""
    plan = f" ({p['latency_plan']} plan)" if p.get("latency_plan") else ""
    if p.get("target_speedup"):
        return f"latency target {p['target_speedup']:g}x faster{plan}"
    if p.get("target_latency_ms"):
        return f"latency target {p['target_latency_ms']:g} ms{plan}"
    if p.get("eval_metric_loss") is not None:
        return f"eval_metric_loss {p['eval_metric_loss']}"
    return f"pruned_flops {p.get('pruned_flops_target')}"


def latency_lines(p: dict[str, Any], c: Comparison) -> list[str]:
    """Predicted against measured latency, for a model pruned to a latency target: the prediction (the latency
    table's additive model) and the measurement prune-train made while choosing, as speed-ups over the base it
    timed alongside, beside the speed-up this benchmark measured."""
    if not p.get("predicted_ms") or not p.get("base_ms"):
        return []
    predicted, base = p["predicted_ms"], p["base_ms"]
    lines = [f"- Latency predicted from the latency table: {predicted:.2f} ms ({base / predicted:.2f}x); "
             + (f"measured while pruning: {p['measured_ms']:.2f} ms ({base / p['measured_ms']:.2f}x), "
                f"prediction error {100 * (predicted - p['measured_ms']) / p['measured_ms']:+.1f}%; "
                if p.get("measured_ms") else "")
             + f"{p.get('latency_iterations') or 0} measure-and-correct iteration(s); "
               f"this benchmark: {c.speedup:.2f}x"]
    return lines


def secondary_metrics(base: BenchmarkResult, pruned: BenchmarkResult) -> list[str]:
    """Summary lines for the task's other metrics, base -> pruned: scalars (pixel accuracy) and per-class
    lists (IoU, AP); anything else (a confusion matrix) stays in the JSON."""

    def num(v: Any) -> str:
        return "-" if v is None else f"{v:.4f}"

    lines = []
    b_all, p_all = base.metrics or {}, pruned.metrics or {}
    for key, b in b_all.items():
        p = p_all.get(key)
        if key in (base.metric, "epoch") or p is None:
            continue
        title = METRIC_TITLES.get(key, key)
        if isinstance(b, (int, float)):
            lines.append(f"- {title}: {num(b)} -> {num(p)}")
        elif isinstance(b, list) and all(v is None or isinstance(v, (int, float)) for v in b + p):
            names = base.classes or [str(i) for i in range(len(b))]
            pairs = ", ".join(f"{n} {num(bv)} -> {num(pv)}" for n, bv, pv in zip(names, b, p))
            lines.append(f"- {title} per class: {pairs}")
    return lines


def gpu_rows(name: str, metric: str, base: BenchmarkResult, pruned: BenchmarkResult) -> list[str]:
    """Table rows for the GPU benchmark: figures where measured, "not measured (reason)" otherwise."""
    label = "GPU + TensorRT" if base.trt else "GPU"
    rows = []
    for tag, data in ((name, base), (f"{name} (pruned)", pruned)):
        if data.measured:
            label_p = f"{label} {data.precision or ''}".strip()
            rows.append(f"| {tag}, {label_p} | {size_text(data.param_file_bytes)} "
                        f"| {speed_text(data.latency_mean_ms)} | {data.metric_value:.4f} |")
        else:
            rows.append(f"| {tag}, {label}: not measured ({data.reason}) | - | - | - |")
    return rows


def plot(base: BenchmarkResult, pruned: BenchmarkResult, path: str | Path) -> Path:
    """report.png: parameter file size, CPU latency and the metric, before and after, as bars."""
    from slimpipe.analysis.plots import plot_comparison

    c = comparison(base, pruned)
    name = arch_title(base.arch)
    rows = [("parameter file (MB)", c.param_file_bytes_base / 1e6, c.param_file_bytes_pruned / 1e6, ""),
            ("CPU latency (ms)", c.latency_ms_base, c.latency_ms_pruned, ""),
            (METRIC_TITLES.get(c.metric, c.metric), c.metric_base, c.metric_pruned, "")]
    plot_comparison(rows, f"{name}: before and after pruning ({c.speedup:.2f}x faster)", Path(path))
    return Path(path)


def report(base: str | Path, pruned: str | Path, out: str | Path, gpu_base: str | Path | None = None,
           gpu_pruned: str | Path | None = None, chart: str | Path | None = None, overwrite: bool = False) -> Report:
    """Write the Markdown report to `out` and return it with the comparison it states; GPU results add rows
    when given; `chart` also draws the comparison as a PNG."""
    from slimpipe.analysis.plots import drawn_here

    inputs = {"base result": base, "pruned result": pruned, "GPU base result": gpu_base,
              "GPU pruned result": gpu_pruned}
    atomic.claim(out, "report", inputs, overwrite, folder=False, ours=atomic.text_starting(TITLE))
    if chart:
        atomic.claim(chart, "report", inputs | {"report": out}, overwrite, folder=False, ours=drawn_here)
    base_data, pruned_data = read_benchmark(base), read_benchmark(pruned)
    extra = []
    if gpu_base and gpu_pruned:
        name = arch_title(base_data.arch)
        extra = gpu_rows(name, base_data.metric, read_benchmark(gpu_base, measured=False),
                         read_benchmark(gpu_pruned, measured=False))
    text = render(base_data, pruned_data, extra)
    if chart:
        plot(base_data, pruned_data, chart)
    atomic.write_text(out, text)
    return Report(text, comparison(base_data, pruned_data), base_data, pruned_data, Path(chart) if chart else None)
