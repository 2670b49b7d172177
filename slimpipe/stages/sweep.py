"""Sweep: pruned models at several eval_metric_loss values or latency targets (speed-ups), measured against each
other, and the choice of the fastest one that passes the quality gate (the one the pipeline then reports and
publishes)."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from slimpipe import atomic, defaults
from slimpipe.benchmark_result import BenchmarkResult, Comparison
from slimpipe.errors import fail
from slimpipe.progress import log
from slimpipe.stages.report import METRIC_TITLES, size_text

STAGE = "sweep-select"
TITLE = "# Sweep of "  # then what was swept: "eval_metric_loss" or "speed-up targets"
HEADER = ("| {kind} | parameters pruned | FLOPs pruned | parameter file | CPU latency | {metric} "
          "| drop (points) | gate | chosen |")
LOSS, SPEEDUP = "eval_metric_loss", "target_speedup"  # the pruning summary's keys of the two kinds of value


def _parse_values(text: str, what: str, example: str, ok, rule: str) -> list[float]:
    try:
        values = sorted({round(float(v), 4) for v in text.split(",") if v.strip()})
    except ValueError:
        raise fail(f"sweep {what} {text!r}: expected comma-separated numbers like {example}") from None
    if not values or not all(ok(v) for v in values):
        raise fail(f"sweep {what} {text!r}: {rule}")
    return values


def parse_losses(text: str) -> list[float]:
    """`0.02,0.05,0.1` -> sorted unique values in (0, 1)."""
    return _parse_values(text, "losses", "0.02,0.05,0.1", lambda v: 0 < v < 1, "every value must be in (0, 1)")


def parse_speedups(text: str) -> list[float]:
    """`1.5,2,3` -> sorted unique speed-up targets, each above 1."""
    return _parse_values(text, "speed-ups", "1.5,2,3", lambda v: 1 < v < 1e3,
                         "every value must be a speed-up above 1 (2 = twice as fast)")


@dataclass
class Row:
    """One swept model: its benchmark result, its figures against the base model and the gate's verdict."""

    path: Path
    result: BenchmarkResult
    figures: Comparison
    passed: bool

    def value(self, kind: str) -> float | None:
        """The swept value this model was pruned at (`kind`: LOSS or SPEEDUP), from its pruning summary."""
        return self.result.pruning_summary.get(kind)


def _kind(rows: list[Row]) -> str:
    return SPEEDUP if any(r.value(SPEEDUP) for r in rows) else LOSS


def _label(row: Row, kind: str) -> str:
    return f"{row.value(SPEEDUP):g}x" if kind == SPEEDUP else f"{row.value(LOSS)}"


def choose(base: BenchmarkResult, results: Sequence[Path], max_drop_points: float) -> tuple[int, list[Row]]:
    """Index of the fastest result that passes the gate (or, if none does, the smallest drop), and a row
    of figures per result."""
    rows = []
    for path in results:
        result = BenchmarkResult.read(path)
        figures = base.compare(result)
        rows.append(Row(path, result, figures, figures.passes(max_drop_points)))
    passing = [i for i, r in enumerate(rows) if r.passed]
    if passing:
        return min(passing, key=lambda i: rows[i].figures.latency_ms_pruned), rows
    return min(range(len(rows)), key=lambda i: rows[i].figures.metric_drop_points), rows


def render(base: BenchmarkResult, rows: list[Row], chosen: int, max_drop_points: float) -> str:
    metric = METRIC_TITLES.get(base.metric, base.metric)
    kind = _kind(rows)
    what = "speed-up targets" if kind == SPEEDUP else LOSS
    lines = [f"{TITLE}{what} ({len(rows)} values)", "",
             f"Base model: {metric} {base.metric_value:.4f}, CPU latency {base.latency_mean_ms:.2f} ms, "
             f"parameter file {size_text(base.param_file_bytes)}. Quality gate: drop at most "
             f"{max_drop_points:g} points.", "", HEADER.format(kind=what, metric=metric),
             "| " + " | ".join(["---"] * 9) + " |"]
    for i, r in sorted(enumerate(rows), key=lambda t: t[1].value(kind) or 0):
        c = r.figures
        lines.append(f"| {_label(r, kind)} | {100 * c.pruned_params:.1f}% | {100 * c.pruned_flops:.1f}% "
                     f"| {size_text(c.param_file_bytes_pruned)} | {c.latency_ms_pruned:.2f} ms "
                     f"({c.speedup:.2f}x) | {c.metric_pruned:.4f} | {c.metric_drop_points:+.2f} "
                     f"| {'pass' if r.passed else 'fail'} | {'**yes**' if i == chosen else ''} |")
    verdict = "the fastest that passes the gate" if rows[chosen].passed else "none passes the gate; the smallest drop"
    chosen_text = (f"speed-up target {_label(rows[chosen], kind)}" if kind == SPEEDUP
                   else f"eval_metric_loss {rows[chosen].value(LOSS)}")
    lines += ["", f"Chosen: {chosen_text} ({verdict})."]
    return "\n".join(lines) + "\n"


def sweep_select(base: str | Path, results: Sequence[str | Path], models: Sequence[str | Path], out_model: str | Path,
                 out_result: str | Path, out_report: str | Path,
                 max_drop_points: float = defaults.MAX_DROP_POINTS,
                 chart: str | Path | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Compare the sweep's pruned models (results[i] benchmarks models[i]); copy the chosen model and its
    result to the outputs and write the sweep table (and, with `chart`, metric against latency)."""
    if not results or len(results) != len(models):
        raise fail(f"sweep: {len(results)} benchmark results for {len(models)} models")
    from slimpipe.analysis.plots import drawn_here
    from slimpipe.benchmark_result import FORMAT

    inputs = {"base result": base, "result": list(results), "model": list(models)}
    atomic.claim(out_model, STAGE, inputs, overwrite)
    for path, ours in ((out_result, atomic.json_tagged(FORMAT)), (out_report, atomic.text_starting(TITLE)),
                       (chart, drawn_here)):
        if path:
            atomic.claim(path, STAGE, inputs, overwrite, folder=False, ours=ours)
    base_data = BenchmarkResult.read(base)
    chosen, rows = choose(base_data, [Path(r) for r in results], max_drop_points)
    text = render(base_data, rows, chosen, max_drop_points)
    with atomic.output_dir(out_model, STAGE) as tmp:
        shutil.copytree(models[chosen], tmp, dirs_exist_ok=True)
    atomic.write_bytes(out_result, Path(results[chosen]).read_bytes())
    atomic.write_text(out_report, text)
    if chart:
        plot_sweep(base_data, rows, chosen, Path(chart))
    kind = _kind(rows)
    log("sweep", f"chose {kind} {_label(rows[chosen], kind)} of {len(rows)}")
    return {"chosen": chosen, LOSS: rows[chosen].value(LOSS), SPEEDUP: rows[chosen].value(SPEEDUP), "report": text}


def plot_sweep(base: BenchmarkResult, rows: list[Row], chosen: int, path: Path) -> None:
    """The trade-off at a glance: metric against CPU latency, one point per swept value."""
    from slimpipe.analysis.plots import plot_tradeoff

    kind = _kind(rows)
    points = [(r.figures.latency_ms_pruned, r.figures.metric_pruned, _label(r, kind), r.passed) for r in rows]
    plot_tradeoff(points, (base.latency_mean_ms, base.metric_value), chosen,
                  METRIC_TITLES.get(base.metric, base.metric), path)
