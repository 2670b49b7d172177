"""Stage 6: the source documents' comparison table from two benchmark results."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slimpipe import atomic
from slimpipe.errors import fail
from slimpipe.models.registry import arch_title

TITLE = "# Pruning report: "
METRIC_TITLES = {"accuracy": "Accuracy", "miou": "mIoU", "map": "mAP", "pixel_accuracy": "Pixel accuracy",
                 "class_iou": "IoU", "class_ap": "AP"}


def read_benchmark(path: str | Path, measured: bool = True) -> dict[str, Any]:
    """A benchmark result; with `measured`, one that holds figures (not a "not measured" record)."""
    path = Path(path)
    if not path.is_file():
        raise fail(f"{path}: benchmark result not found")
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise TypeError(f"a JSON {type(data).__name__}, not an object")
        if data.get("measured", True):
            data["latency_ms"]["mean"], data["metric_value"], data["param_file_bytes"]
        else:
            data["reason"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise fail(f"{path}: not a slimpipe benchmark result ({exc})") from None
    if measured and not data.get("measured", True):
        raise fail(f"{path}: this benchmark was not measured ({data['reason']})")
    return data


def size_text(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.2f}M" if n_bytes >= 1e5 else f"{n_bytes / 1e3:.1f}K"


def speed_text(ms: float) -> str:
    return f"{ms / 1000:.3f}s ({ms:.2f} ms)"


def comparison(base: dict[str, Any], pruned: dict[str, Any]) -> dict[str, Any]:
    """The figures the table and the pipeline's Metrics share."""
    if base["metric"] != pruned["metric"] or base["task"] != pruned["task"]:
        raise fail("the two benchmarks measure different tasks or metrics")
    return {
        "metric": base["metric"],
        "metric_base": base["metric_value"], "metric_pruned": pruned["metric_value"],
        "metric_drop_points": 100.0 * (base["metric_value"] - pruned["metric_value"]),
        "pruned_params": 1.0 - pruned["params"] / base["params"],
        "pruned_flops": 1.0 - pruned["flops"] / base["flops"],
        "speedup": base["latency_ms"]["mean"] / pruned["latency_ms"]["mean"],
        "flops_ratio": base["flops"] / pruned["flops"],
        # How much of the FLOPs cut became speed: 1 = latency fell as much as FLOPs did.
        "speedup_efficiency": (base["latency_ms"]["mean"] / pruned["latency_ms"]["mean"])
                              / (base["flops"] / pruned["flops"]),
        "latency_ms_base": base["latency_ms"]["mean"], "latency_ms_pruned": pruned["latency_ms"]["mean"],
        "param_file_bytes_base": base["param_file_bytes"], "param_file_bytes_pruned": pruned["param_file_bytes"],
    }


def render(base: dict[str, Any], pruned: dict[str, Any], extra_rows: list[str] | None = None) -> str:
    """Markdown: the reference table (model, parameter file size, prediction speed, metric) and a summary."""
    c = comparison(base, pruned)
    name = arch_title(base["arch"])
    metric = METRIC_TITLES.get(c["metric"], c["metric"])
    setting = (f"{base['device'].upper()}, MKLDNN {'enabled' if base['mkldnn'] else 'disabled'}, "
               f"{base['threads']} thread(s), batch {base['batch_size']}, mean of {base['repeats']} runs after "
               f"{base['warmup']} warm-up; prediction time excludes pre- and post-processing")
    lines = [
        f"{TITLE}{name}", "",
        f"Prediction: {setting}.", "",
        f"| Model | Parameter file size | Prediction speed | {metric} |",
        "| :--- | :--- | :--- | :--- |",
        f"| {name} | {size_text(base['param_file_bytes'])} | {speed_text(base['latency_ms']['mean'])} "
        f"| {base['metric_value']:.4f} |",
        f"| {name} (pruned by {100 * c['pruned_params']:.0f}%) | {size_text(pruned['param_file_bytes'])} "
        f"| {speed_text(pruned['latency_ms']['mean'])} | {pruned['metric_value']:.4f} |",
        *(extra_rows or []), "",
        f"- Parameters pruned: {100 * c['pruned_params']:.1f}%; FLOPs pruned: {100 * c['pruned_flops']:.1f}%",
        f"- Speed-up: {c['speedup']:.2f}x ({c['latency_ms_base']:.2f} ms -> {c['latency_ms_pruned']:.2f} ms, "
        f"measured in the same run)",
        f"- Speed-up efficiency (speed-up / FLOPs ratio): {c['speedup_efficiency']:.2f} "
        f"({c['speedup']:.2f}x faster for {c['flops_ratio']:.2f}x fewer FLOPs)",
        f"- {metric} change: {-c['metric_drop_points']:+.2f} points",
        *secondary_metrics(base, pruned),
    ]
    p = pruned.get("pruning") or {}
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
    """What the pruning aimed at, from a benchmark's pruning summary."""
    if p.get("target_speedup"):
        return f"latency target {p['target_speedup']:g}x faster"
    if p.get("target_latency_ms"):
        return f"latency target {p['target_latency_ms']:g} ms"
    if p.get("eval_metric_loss") is not None:
        return f"eval_metric_loss {p['eval_metric_loss']}"
    return f"pruned_flops {p.get('pruned_flops_target')}"


def latency_lines(p: dict[str, Any], c: dict[str, Any]) -> list[str]:
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
               f"this benchmark: {c['speedup']:.2f}x"]
    return lines


def secondary_metrics(base: dict[str, Any], pruned: dict[str, Any]) -> list[str]:
    """Summary lines for the task's other metrics, base -> pruned: scalars (pixel accuracy) and per-class
    lists (IoU, AP); anything else (a confusion matrix) stays in the JSON."""

    def num(v: Any) -> str:
        return "-" if v is None else f"{v:.4f}"

    lines = []
    b_all, p_all = base.get("metrics") or {}, pruned.get("metrics") or {}
    for key, b in b_all.items():
        p = p_all.get(key)
        if key in (base["metric"], "epoch") or p is None:
            continue
        title = METRIC_TITLES.get(key, key)
        if isinstance(b, (int, float)):
            lines.append(f"- {title}: {num(b)} -> {num(p)}")
        elif isinstance(b, list) and all(v is None or isinstance(v, (int, float)) for v in b + p):
            names = base.get("classes") or [str(i) for i in range(len(b))]
            pairs = ", ".join(f"{n} {num(bv)} -> {num(pv)}" for n, bv, pv in zip(names, b, p))
            lines.append(f"- {title} per class: {pairs}")
    return lines


def gpu_rows(name: str, metric: str, base: dict[str, Any], pruned: dict[str, Any]) -> list[str]:
    """Table rows for the GPU benchmark: figures where measured, "not measured (reason)" otherwise."""
    label = "GPU + TensorRT" if base.get("trt") else "GPU"
    rows = []
    for tag, data in ((name, base), (f"{name} (pruned)", pruned)):
        if data.get("measured", True):
            label_p = f"{label} {data.get('precision') or ''}".strip()
            rows.append(f"| {tag}, {label_p} | {size_text(data['param_file_bytes'])} "
                        f"| {speed_text(data['latency_ms']['mean'])} | {data['metric_value']:.4f} |")
        else:
            rows.append(f"| {tag}, {label}: not measured ({data['reason']}) | - | - | - |")
    return rows


def plot(base: dict[str, Any], pruned: dict[str, Any], path: str | Path) -> Path:
    """report.png: parameter file size, CPU latency and the metric, before and after, as bars."""
    from slimpipe.analysis.plots import plot_comparison

    c = comparison(base, pruned)
    name = arch_title(base["arch"])
    rows = [("parameter file (MB)", c["param_file_bytes_base"] / 1e6, c["param_file_bytes_pruned"] / 1e6, ""),
            ("CPU latency (ms)", c["latency_ms_base"], c["latency_ms_pruned"], ""),
            (METRIC_TITLES.get(c["metric"], c["metric"]), c["metric_base"], c["metric_pruned"], "")]
    plot_comparison(rows, f"{name}: before and after pruning ({c['speedup']:.2f}x faster)", Path(path))
    return Path(path)


def report(base: str | Path, pruned: str | Path, out: str | Path, gpu_base: str | Path | None = None,
           gpu_pruned: str | Path | None = None, chart: str | Path | None = None, overwrite: bool = False) -> str:
    """Write the Markdown report to `out` and return it; GPU results add rows when given; `chart` also
    draws the comparison as a PNG."""
    from slimpipe.analysis.plots import drawn_here

    inputs = {"base result": base, "pruned result": pruned, "GPU base result": gpu_base,
              "GPU pruned result": gpu_pruned}
    atomic.claim(out, "report", inputs, overwrite, folder=False, ours=atomic.text_starting(TITLE))
    if chart:
        atomic.claim(chart, "report", inputs | {"report": out}, overwrite, folder=False, ours=drawn_here)
    base_data, pruned_data = read_benchmark(base), read_benchmark(pruned)
    extra = []
    if gpu_base and gpu_pruned:
        name = arch_title(base_data["arch"])
        extra = gpu_rows(name, base_data["metric"], read_benchmark(gpu_base, measured=False),
                         read_benchmark(gpu_pruned, measured=False))
    text = render(base_data, pruned_data, extra)
    if chart:
        plot(base_data, pruned_data, chart)
    atomic.write_text(out, text)
    return text
