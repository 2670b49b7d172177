"""Pictures people would rather look at than read: the sensitivity curve and per-layer curves."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from slimpipe import atomic

SOFTWARE = "slimpipe"
drawn_here = atomic.png_from(SOFTWARE)  # recognises a chart a stage wrote earlier (atomic.claim)


def embedded_png(png: str | Path, alt: str, style: str = "") -> str:
    """An HTML <img> holding the PNG file itself (a data URI), so the page needs no other file."""
    import base64
    import html

    data = base64.b64encode(Path(png).read_bytes()).decode()
    styled = f" style='{html.escape(style)}'" if style else ""
    return f"<img alt='{html.escape(alt)}'{styled} src='data:image/png;base64,{data}'>"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": SOFTWARE})
    atomic.write_bytes(path, buf.getvalue())


def plot_curve(points: list[dict[str, Any]], title: str, path: Path) -> None:
    """sensitivities.png as in the reference: x = fraction of the model pruned, y = eval_metric_loss."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 6))
    x = [p["pruned_params"] for p in points]
    y = [p["eval_metric_loss"] for p in points]
    ax.plot(x, y, color="green", linewidth=0.8, marker="o", markersize=3)
    for a, b in zip(x, y):
        ax.annotate(f"({a:.3f}, {b:.2f})", (a, b), textcoords="offset points", xytext=(0, 4),
                    ha="center", fontsize=7)
    ax.set_xlabel("model prune ratio (fraction of parameters removed)")
    ax.set_ylabel("eval_metric_loss")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _save(fig, path)
    plt.close(fig)


def plot_layers(table: dict[str, dict[float, float]], metric: str, path: Path,
                capped: dict[str, list[str]] | None = None, cap: float | None = None) -> None:
    """One line per layer: relative metric loss against the ratio pruned. Ratios skipped by early stop
    (`capped`, recorded as "at least `cap`") are drawn dotted at the cap."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 6))
    for layer, losses in table.items():
        skipped = {float(r) for r in (capped or {}).get(layer, [])}
        measured = sorted(r for r in losses if r not in skipped)
        line, = ax.plot(measured, [losses[r] for r in measured], linewidth=0.8, marker=".", label=layer)
        if skipped:
            tail = [measured[-1]] + sorted(skipped)
            ax.plot(tail, [losses[measured[-1]]] + [cap] * len(skipped), linestyle=":", linewidth=0.8,
                    color=line.get_color())
    if cap is not None:
        ax.axhline(cap, color="red", linestyle=":", linewidth=0.6, label=f"early stop at loss {cap} (at least)")
    ax.axhline(0.05, color="grey", linestyle="--", linewidth=0.6)
    ax.set_xlabel("ratio of the layer's channels pruned")
    ax.set_ylabel(f"relative {metric} loss")
    ax.set_title("per-layer sensitivity")
    _finish_layers(plt, fig, ax, len(table), path)


def _finish_layers(plt, fig, ax, layers: int, path: Path) -> None:
    """The per-layer plots' ending: grid, a legend outside the axes where the layers fit in one (40), saved."""
    ax.grid(alpha=0.3)
    if layers <= 40:
        ax.legend(fontsize=5, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _save(fig, path)
    plt.close(fig)


def plot_comparison(rows: list[tuple[str, float, float, str]], title: str, path: Path) -> None:
    """The before/after table as bars: one panel per figure (base vs pruned), values printed on the bars.
    `rows` holds (figure name, base value, pruned value, unit)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(rows), figsize=(3.2 * len(rows), 3.4))
    for ax, (name, base, pruned, unit) in zip(axes, rows):
        bars = ax.bar(["base", "pruned"], [base, pruned], color=["#8c8c8c", "#2e8b57"])
        for bar, value in zip(bars, (base, pruned)):
            ax.annotate(f"{value:.3g}{unit}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=9)
        ax.set_title(name, fontsize=10)
        ax.set_ylim(0, max(base, pruned) * 1.2 or 1)
        ax.tick_params(labelsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_tradeoff(points: list[tuple[float, float, str, bool]], base: tuple[float, float], chosen: int,
                  metric: str, path: Path) -> None:
    """Metric against CPU latency: the base model, and one labelled point per swept model (hollow when it
    fails the quality gate; the chosen one ringed)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.scatter([base[0]], [base[1]], color="#8c8c8c", marker="s", label="base")
    for i, (latency, value, label, passed) in enumerate(points):
        ax.scatter([latency], [value], facecolors="#2e8b57" if passed else "none", edgecolors="#2e8b57",
                   s=120 if i == chosen else 40, linewidths=2.5 if i == chosen else 1)
        ax.annotate(f"loss {label}", (latency, value), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xlabel("CPU latency (ms, MKLDNN off)")
    ax.set_ylabel(metric)
    ax.set_title("eval_metric_loss sweep: filled = passes the gate, large = chosen")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)
    plt.close(fig)


def plot_latency_vs_loss(curves: dict[str, list[tuple[float, float, float]]], base_ms: float, metric: str,
                         path: Path) -> None:
    """latency.png: per layer, the latency the whole model saves against the metric it loses when that layer
    alone is pruned, one point per ratio (`curves`: layer -> [(ratio, ms saved, relative loss)]). Layers up and to
    the left buy speed cheaply; the latency-target pruning picks from there first."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 6))
    for layer, points in curves.items():
        points = sorted(points)
        ax.plot([p[1] for p in points], [p[2] for p in points], linewidth=0.8, marker=".", label=layer)
    ax.axvline(0.0, color="grey", linewidth=0.6)
    ax.set_xlabel(f"latency saved (ms per run; unpruned model {base_ms:.2f} ms)")
    ax.set_ylabel(f"relative {metric} loss")
    ax.set_title("per-layer latency saved against sensitivity (each point a pruning ratio)")
    _finish_layers(plt, fig, ax, len(curves), path)
