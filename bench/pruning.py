"""The pruning sections' shared shape: a task's targets, and the FLOPs / parameters / latency / metric rows
judged against them, for a demo run (`demo_section`) or a run through the stage functions (`staged_section`)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import METRIC_TITLES, demo_dir, run_demo, side_by_side, table
from slimpipe.benchmark_result import BenchmarkResult


@dataclass(frozen=True)
class Targets:
    """One task's targets from its issue; None = no target for that figure (reported, not judged)."""

    title: str
    demo_seconds: float
    speedup: float
    max_drop_points: float
    flops: float | None = None
    params: float | None = None


TARGETS = {
    "classification": Targets("Image classification (MobileNetV2, bundled digits sample)", 300, 1.8, 1.0, flops=0.5),
    "segmentation": Targets("Semantic segmentation (UNet, bundled fundus sample)", 300, 1.8, 1.0, params=0.5),
    "detection": Targets("Object detection (YOLOv3-MobileNetV1, bundled shapes sample)", 300, 1.4, 1.0, params=0.4),
}
CMD_LAT = "python -m bench.run (side_by_side: 5 alternating rounds x 50 runs, CPU, MKLDNN off, 1 thread)"

# A metric drop only says something about pruning when the base model works: below this the target is
# reported as not met, whatever the drop.
MEANINGFUL_BASE = 0.5


def at_least(value: float, target: float | None) -> tuple[str, bool | None]:
    return ("-", None) if target is None else (f">= {100 * target:.0f}%", value >= target)


def pruning_rows(base: BenchmarkResult, pruned: BenchmarkResult, lat: dict, t: Targets, cmd: str, judge_metric: bool = True) -> list[tuple]:
    """FLOPs, parameters, side-by-side latency and metric rows, judged against `t` (the metric drop only
    when `judge_metric`: a section with a control judges it there)."""
    metric = base.metric
    drop = 100 * (base.metric_value - pruned.metric_value)
    flops = 1 - pruned.flops / base.flops
    params = 1 - pruned.params / base.params
    return [
        ("FLOPs removed at eval_metric_loss 0.05", f"{100 * flops:.1f}%", *at_least(flops, t.flops), cmd),
        ("Parameters removed at eval_metric_loss 0.05", f"{100 * params:.1f}%", *at_least(params, t.params), cmd),
        ("CPU latency (MKLDNN off), base -> pruned",
         f"{lat['base_ms']:.2f} ms -> {lat['pruned_ms']:.2f} ms", "-", None, CMD_LAT),
        ("CPU speed-up, same run", f"{lat['speedup']:.2f}x", f">= {t.speedup}x", lat["speedup"] >= t.speedup, CMD_LAT),
        (f"{METRIC_TITLES.get(metric, metric)}, base -> pruned (val, through the predictor)",
         f"{base.metric_value:.4f} -> {pruned.metric_value:.4f} ({-drop:+.2f} points)",
         *drop_target(drop, base.metric_value, t, judge_metric), cmd),
    ]


def drop_target(drop: float, base_value: float, t: Targets, judge: bool = True) -> tuple[str, bool | None]:
    if not judge:
        return "see the control below", None
    return (f"drop <= {t.max_drop_points:g} point, from a base >= {MEANINGFUL_BASE}",
            drop <= t.max_drop_points and base_value >= MEANINGFUL_BASE)


def demo_section(work: Path, task: str) -> list[str]:
    """Run one task's demo, then judge its figures; the demo's own report follows the table. The demo's
    outputs stay in work/demo-<task> for the sections that depend on this one."""
    t = TARGETS[task]
    demo_out = demo_dir(work, task)
    demo = run_demo(demo_out, task)
    results = demo_out / "results"
    base = BenchmarkResult.read(results / "benchmark_base_cpu.json")
    pruned = BenchmarkResult.read(results / "benchmark_pruned_cpu.json")
    lat = side_by_side(results / "model", results / "pruned", demo_out / f"{task}-sample")
    rows = [
        (f"`make demo TASK={task}` wall time (after install)", f"{demo['seconds']:.0f} s",
         f"<= {t.demo_seconds:.0f} s", demo["seconds"] <= t.demo_seconds, demo["command"]),
        (f"`make demo TASK={task}` peak memory (largest process)", f"{demo['peak_rss_gb']:.2f} GB", "<= 3 GB",
         demo["peak_rss_gb"] <= 3, demo["command"]),
        *pruning_rows(base, pruned, lat, t, demo["command"]),
    ]
    report = (results / "report.md").read_text()
    return [f"## {t.title}", "", *table(rows), "",
            "The demo's own report (benchmarked by its benchmark stage, same run):", "", report]


def staged_section(work: Path, name: str, data: Path, t: Targets, train_kwargs: dict, prune_kwargs: dict,
                   what: str, control: bool = False) -> list[str]:
    """Train, sensitivity, prune-train at eval_metric_loss 0.05 and benchmark through the stage functions,
    then the pruning rows judged against `t`. With `control`, the metric drop is judged against the base
    model retrained unpruned for the same epochs (for a model still learning, retraining alone gains)."""
    import shutil

    from slimpipe.stages.benchmark import benchmark
    from slimpipe.stages.prune_train import prune_train
    from slimpipe.stages.sensitivity import sensitivity
    from slimpipe.stages.train import train

    out = work / name
    for stale in ("model", "pruned"):  # a fresh run: the analysis is never resumed from a previous bench
        shutil.rmtree(out / stale, ignore_errors=True)
    (out / "sensitivities.json").unlink(missing_ok=True)
    start = time.perf_counter()
    train(data, out / "model", **train_kwargs)
    sensitivity(out / "model", data, out / "sensitivities.json")
    prune_train(out / "model", data, out / "sensitivities.json", out / "pruned", eval_metric_loss=0.05, **prune_kwargs)
    results = [benchmark(out / d, data, out / f"{d}.json") for d in ("model", "pruned")]
    retrained = retrained_unpruned(out / "model", data, prune_kwargs) if control else None
    cmd = f"python -m bench.run --only {name} ({what}; {time.perf_counter() - start:.0f} s in all)"
    lat = side_by_side(out / "model", out / "pruned", data)
    rows = pruning_rows(*results, lat, t, cmd, judge_metric=not control)
    if retrained:
        rows.append(control_row(*retrained, results[1], t, cmd))
    return [f"## {t.title}", "", *table(rows), ""]


def control_row(metric: str, epochs: int, control: float, pruned: BenchmarkResult, t: Targets, cmd: str) -> tuple:
    """The unpruned control against the pruned model: the drop that pruning itself costs."""
    value = pruned.metric_value
    drop = 100 * (control - value)
    return (f"{METRIC_TITLES.get(metric, metric)}, unpruned model retrained the same {epochs} epochs -> pruned",
            f"{control:.4f} -> {value:.4f} ({-drop:+.2f} points)", *drop_target(drop, control, t), cmd)


def retrained_unpruned(model: Path, data: Path, prune_kwargs: dict) -> tuple[str, int, float]:
    """The base model given prune-train's retraining (same epochs, batch, learning rate and seed) without
    pruning: (metric name, epochs, best val metric)."""
    from slimpipe import modeldir

    return _retrained(*modeldir.load(model), data, prune_kwargs, "control")


def pruned_like(model: Path, pruned: Path):
    """`model` (loaded) with `pruned`'s ratios applied to its weights as prune-train applies them, before any
    retraining: (network, model info)."""
    from slimpipe import modeldir
    from slimpipe.errors import fail

    plan = modeldir.read_info(pruned)
    if not plan.pruning:
        raise fail(f"{pruned}: not a pruned model (its model.json records no pruning)")
    net, info = modeldir.load(model)
    for name in ("arch", "arch_options", "input_size"):
        if getattr(plan, name) != getattr(info, name):
            raise fail(f"{pruned}: pruned from another model than {model} ({name} {getattr(plan, name)!r}, "
                       f"not {getattr(info, name)!r})")
    modeldir.apply_pruning(net, info.input_shape(), plan.pruning)
    return net, info


def retrained_pruned(model: Path, pruned: Path, data: Path, prune_kwargs: dict) -> tuple[str, int, float]:
    """pruned_like(model, pruned) retrained with prune-train's settings from `prune_kwargs`, as
    retrained_unpruned retrains the control: (metric name, epochs, best val metric). Only the retraining
    differs from `pruned`'s own."""
    return _retrained(*pruned_like(model, pruned), data, prune_kwargs, "pruned, retrained")


def _retrained(net, info, data: Path, prune_kwargs: dict, label: str) -> tuple[str, int, float]:
    """`net` trained as prune-train retrains (its defaults where `prune_kwargs` gives none): (metric name,
    epochs, best val metric)."""
    import inspect

    from slimpipe.stages.common import load_split_for
    from slimpipe.stages.prune_train import prune_train
    from slimpipe.tasks import get_task
    from slimpipe.training import TrainSettings, fit

    defaults = {k: v.default for k, v in inspect.signature(prune_train).parameters.items()}
    settings = TrainSettings(**{k: prune_kwargs.get(k, defaults[k]) for k in ("epochs", "batch_size",
                                                                            "learning_rate", "seed")})
    task = get_task(info.task)
    best = fit(net, task, load_split_for(info, data, "train"), load_split_for(info, data, "val"), settings,
               label=label)
    return task.metric_name, settings.epochs, best[task.metric_name]
