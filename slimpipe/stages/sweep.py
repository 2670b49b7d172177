"""Sweep: pruned models at several eval_metric_loss values, measured against each other, and the choice of
the fastest one that passes the quality gate (the one the pipeline then reports and publishes)."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Sequence

from slimpipe import atomic
from slimpipe.errors import fail
from slimpipe.progress import log
from slimpipe.stages.publish import judge
from slimpipe.stages.report import METRIC_TITLES, read_benchmark, size_text

STAGE = "sweep-select"
TITLE = "# Sweep of eval_metric_loss"
HEADER = ("| eval_metric_loss | parameters pruned | FLOPs pruned | parameter file | CPU latency | {metric} "
          "| drop (points) | gate | chosen |")


def parse_losses(text: str) -> list[float]:
    """`0.02,0.05,0.1` -> sorted unique values in (0, 1)."""
    try:
        values = sorted({round(float(v), 4) for v in text.split(",") if v.strip()})
    except ValueError:
        raise fail(f"sweep losses {text!r}: expected comma-separated numbers like 0.02,0.05,0.1") from None
    if not values or not all(0 < v < 1 for v in values):
        raise fail(f"sweep losses {text!r}: every value must be in (0, 1)")
    return values


def choose(base: dict[str, Any], results: Sequence[Path], max_drop_points: float) -> tuple[int, list[dict[str, Any]]]:
    """Index of the fastest result that passes the gate (or, if none does, the smallest drop), and a row
    of figures per result."""
    rows = []
    for path in results:
        data = read_benchmark(path)
        verdict = judge(base, data, max_drop_points)
        rows.append({"path": path, "data": data, "passed": verdict["passed"], **verdict["figures"],
                     "eval_metric_loss": (data.get("pruning") or {}).get("eval_metric_loss")})
    passing = [i for i, r in enumerate(rows) if r["passed"]]
    if passing:
        return min(passing, key=lambda i: rows[i]["latency_ms_pruned"]), rows
    return min(range(len(rows)), key=lambda i: rows[i]["metric_drop_points"]), rows


def render(base: dict[str, Any], rows: list[dict[str, Any]], chosen: int, max_drop_points: float) -> str:
    metric = METRIC_TITLES.get(base["metric"], base["metric"])
    lines = [f"{TITLE} ({len(rows)} values)", "",
             f"Base model: {metric} {base['metric_value']:.4f}, CPU latency {base['latency_ms']['mean']:.2f} ms, "
             f"parameter file {size_text(base['param_file_bytes'])}. Quality gate: drop at most "
             f"{max_drop_points:g} points.", "", HEADER.format(metric=metric), "| " + " | ".join(["---"] * 9) + " |"]
    for i, r in sorted(enumerate(rows), key=lambda t: t[1]["eval_metric_loss"] or 0):
        lines.append(f"| {r['eval_metric_loss']} | {100 * r['pruned_params']:.1f}% | {100 * r['pruned_flops']:.1f}% "
                     f"| {size_text(r['param_file_bytes_pruned'])} | {r['latency_ms_pruned']:.2f} ms "
                     f"({r['speedup']:.2f}x) | {r['metric_pruned']:.4f} | {r['metric_drop_points']:+.2f} "
                     f"| {'pass' if r['passed'] else 'fail'} | {'**yes**' if i == chosen else ''} |")
    verdict = "the fastest that passes the gate" if rows[chosen]["passed"] else "none passes the gate; the smallest drop"
    lines += ["", f"Chosen: eval_metric_loss {rows[chosen]['eval_metric_loss']} ({verdict})."]
    return "\n".join(lines) + "\n"


def sweep_select(base: str | Path, results: Sequence[str | Path], models: Sequence[str | Path], out_model: str | Path,
                 out_result: str | Path, out_report: str | Path, max_drop_points: float = 1.0,
                 chart: str | Path | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Compare the sweep's pruned models (results[i] benchmarks models[i]); copy the chosen model and its
    result to the outputs and write the sweep table (and, with `chart`, metric against latency)."""
    if not results or len(results) != len(models):
        raise fail(f"sweep: {len(results)} benchmark results for {len(models)} models")
    from slimpipe.analysis.plots import drawn_here
    from slimpipe.stages.benchmark import FORMAT

    inputs = {"base result": base, "result": list(results), "model": list(models)}
    atomic.claim(out_model, STAGE, inputs, overwrite)
    for path, ours in ((out_result, atomic.json_tagged(FORMAT)), (out_report, atomic.text_starting(TITLE)),
                       (chart, drawn_here)):
        if path:
            atomic.claim(path, STAGE, inputs, overwrite, folder=False, ours=ours)
    base_data = read_benchmark(base)
    chosen, rows = choose(base_data, [Path(r) for r in results], max_drop_points)
    text = render(base_data, rows, chosen, max_drop_points)
    with atomic.output_dir(out_model, STAGE) as tmp:
        shutil.copytree(models[chosen], tmp, dirs_exist_ok=True)
    atomic.write_bytes(out_result, Path(results[chosen]).read_bytes())
    atomic.write_text(out_report, text)
    if chart:
        plot_sweep(base_data, rows, chosen, Path(chart))
    log("sweep", f"chose eval_metric_loss {rows[chosen]['eval_metric_loss']} of {len(rows)}")
    return {"chosen": chosen, "eval_metric_loss": rows[chosen]["eval_metric_loss"], "report": text}


def plot_sweep(base: dict[str, Any], rows: list[dict[str, Any]], chosen: int, path: Path) -> None:
    """The trade-off at a glance: metric against CPU latency, one point per eval_metric_loss."""
    from slimpipe.analysis.plots import plot_tradeoff

    points = [(r["latency_ms_pruned"], r["metric_pruned"], f"{r['eval_metric_loss']}", r["passed"]) for r in rows]
    plot_tradeoff(points, (base["latency_ms"]["mean"], base["metric_value"]), chosen,
                  METRIC_TITLES.get(base["metric"], base["metric"]), path)
