"""Stage 3: the sensitivity curve as the reference draws it, per-layer curves and a small HTML page."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from slimpipe import atomic, modeldir
from slimpipe.analysis.curve import THRESHOLDS, describe, pruning_curve
from slimpipe.analysis.plots import embedded_png, plot_curve, plot_latency_vs_loss, plot_layers
from slimpipe.progress import log
from slimpipe.pruning.sensitivity import Sensitivities
from slimpipe.pruning.channels import ChannelPruner


def visualize(model: str | Path, sensitivities: str | Path, out: str | Path, latency_table: str | Path | None = None,
              overwrite: bool = False) -> dict[str, Any]:
    """Write sensitivities.png, layers.png, curve.json and index.html to `out` (and latency.png, the latency each
    layer saves against the metric it loses, when a measured `latency_table` is given); returns the curve data."""
    from slimpipe.pruning import latency as lat

    atomic.claim(out, "visualize", {"model": model, "sensitivities": sensitivities, "latency table": latency_table},
                 overwrite)
    info = modeldir.read_info(model)
    net = modeldir.build(info)  # only the shapes matter here
    data = Sensitivities.read(sensitivities)
    data.require_complete()
    pruner = ChannelPruner(net, info.input_shape(), data.criterion)
    data.check_matches(info.arch, pruner.fingerprint(), pruner.layers)
    table = lat.read_measured(latency_table) if latency_table else None
    if table is not None:
        lat.require_complete(table, Path(latency_table))
        lat.check_matches(table, Path(latency_table), info.arch, pruner.fingerprint(), pruner.layers)
    cap = data.stop_loss
    thresholds = tuple(t for t in THRESHOLDS if cap is None or t < cap)  # from the cap up: not measured
    points = pruning_curve(pruner, data.table, info.input_shape(), thresholds)
    summary = describe(points)
    result = {"arch": info.arch, "metric": data.metric, "baseline": data.baseline,
              "curve": points, "summary": summary}
    with atomic.output_dir(out, "visualize") as tmp:
        plot_curve(points, f"{info.arch} ({info.task}) sensitivity", tmp / "sensitivities.png")
        plot_layers(data.table, data.metric, tmp / "layers.png", data.capped, cap)
        if table is not None:
            plot_latency_vs_loss(latency_curves(table, data.table), table.base_ms, data.metric,
                                 tmp / "latency.png")
        atomic.write_json(tmp / "curve.json", result)
        atomic.write_text(tmp / "index.html", render_html(result, tmp / "sensitivities.png"))
    for line in summary:
        log("visualize", line)
    return result


def latency_curves(table, losses: dict[str, dict[float, float]]) -> dict[str, list[tuple[float, float, float]]]:
    """Per layer measured in both tables: (ratio, ms saved, relative loss) at each ratio of the latency table, the
    loss interpolated linearly between the sensitivity analysis's ratios (0 at ratio 0)."""
    from slimpipe.pruning.latency_target import loss_at

    curves = {layer: [(r, table.saved_alone(layer, r), loss_at(losses[layer], r)) for r in table.ratios]
              for layer in table.saved if layer in losses}
    return {layer: [p for p in points if p[2] is not None] for layer, points in curves.items()}


def render_html(result: dict[str, Any], png: Path) -> str:
    """A self-contained page: the curve embedded as a data URI, and the curve as a table."""
    rows = "".join(f"<tr><td>{p['eval_metric_loss']:.2f}</td><td>{100 * p['pruned_params']:.1f}%</td>"
                   f"<td>{100 * p['pruned_flops']:.1f}%</td><td>{p['layers_pruned']}</td></tr>"
                   for p in result["curve"])
    notes = "".join(f"<li>{html.escape(s)}</li>" for s in result["summary"])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Sensitivity: {html.escape(result['arch'])}"
            f"</title></head><body style='font-family:sans-serif'>"
            f"<h2>Sensitivity of {html.escape(result['arch'])} (baseline {html.escape(result['metric'])} "
            f"{result['baseline']:.4f})</h2><ul>{notes}</ul>"
            f"{embedded_png(png, 'sensitivity curve', 'max-width:720px')}"
            f"<table border='1' cellpadding='3'><tr><th>eval_metric_loss</th><th>parameters pruned</th>"
            f"<th>FLOPs pruned</th><th>layers pruned</th></tr>{rows}</table></body></html>")
