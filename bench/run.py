"""`make bench`: measure the targets and write bench/results.md, every figure with its command.

Latency speed-ups are ratios measured side by side: both predictors loaded in one process and timed in
alternating rounds, so machine noise hits both alike.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import slimpipe  # noqa: F401  (Pillow before paddle)

ROOT = Path(__file__).resolve().parent.parent


# Runs a command and prints the peak RSS (KiB) of its largest descendant: RUSAGE_CHILDREN of this
# process alone, so each demo's figure is its own and not the maximum over the whole bench.
PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "print('peak_kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def run_demo(out: Path, task: str) -> dict:
    """Run the demo exactly as `make demo TASK=...` does, in a child process; wall time and peak memory."""
    import shutil

    shutil.rmtree(out, ignore_errors=True)  # a fresh run each time: nothing cached from a previous bench
    cmd = [sys.executable, "-m", "slimpipe.demo", "--task", task, "--out", str(out)]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, *cmd], check=True, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    sys.stdout.write(done.stdout)
    peak_kib = int(done.stdout.rsplit("peak_kib", 1)[1])
    return {"command": f"make demo TASK={task}  (python -m slimpipe.demo --task {task} --out "
                       f"{out.relative_to(ROOT)})", "seconds": wall, "peak_rss_gb": peak_kib / 1024 / 1024}


def side_by_side(base_dir: Path, pruned_dir: Path, rounds: int = 5, repeats: int = 50) -> dict:
    """Alternate base and pruned predictors (CPU, MKLDNN off, 1 thread, batch 1); median of round means."""
    import numpy as np

    from slimpipe import modeldir
    from slimpipe.inference import Predictor, PredictorSettings, make_config
    from slimpipe.stages.benchmark import time_runs

    info = modeldir.read_info(base_dir)
    feed = [np.random.default_rng(0).standard_normal(info.input_shape(1)).astype("float32")]
    predictors = {name: Predictor(make_config(*modeldir.inference_paths(d), PredictorSettings()))
                  for name, d in (("base", base_dir), ("pruned", pruned_dir))}
    means = {"base": [], "pruned": []}
    for _ in range(rounds):
        for name, predictor in predictors.items():
            means[name].append(time_runs(predictor, feed, warmup=10, repeats=repeats)["mean"])
    med = {k: float(np.median(v)) for k, v in means.items()}
    return {"base_ms": med["base"], "pruned_ms": med["pruned"], "speedup": med["base"] / med["pruned"],
            "rounds": rounds, "repeats": repeats}


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


def table(rows: list[tuple]) -> list[str]:
    lines = ["| figure | measured | target | met | command |", "| --- | --- | --- | --- | --- |"]
    for name, value, target, met, cmd in rows:
        flag = "-" if met is None else ("yes" if met else "NO")
        lines.append(f"| {name} | {value} | {target} | {flag} | `{cmd}` |")
    return lines


def at_least(value: float, target: float | None) -> tuple[str, bool | None]:
    return ("-", None) if target is None else (f">= {100 * target:.0f}%", value >= target)


def pruning_rows(base: dict, pruned: dict, lat: dict, t: Targets, cmd: str) -> list[tuple]:
    """FLOPs, parameters, side-by-side latency and metric rows, judged against `t`."""
    metric = base["metric"]
    drop = 100 * (base["metric_value"] - pruned["metric_value"])
    flops = 1 - pruned["flops"] / base["flops"]
    params = 1 - pruned["params"] / base["params"]
    return [
        ("FLOPs removed at eval_metric_loss 0.05", f"{100 * flops:.1f}%", *at_least(flops, t.flops), cmd),
        ("Parameters removed at eval_metric_loss 0.05", f"{100 * params:.1f}%", *at_least(params, t.params), cmd),
        ("CPU latency (MKLDNN off), base -> pruned",
         f"{lat['base_ms']:.2f} ms -> {lat['pruned_ms']:.2f} ms", "-", None, CMD_LAT),
        ("CPU speed-up, same run", f"{lat['speedup']:.2f}x", f">= {t.speedup}x", lat["speedup"] >= t.speedup, CMD_LAT),
        (f"{metric}, base -> pruned (val, through the predictor)",
         f"{base['metric_value']:.4f} -> {pruned['metric_value']:.4f} ({-drop:+.2f} points)",
         f"drop <= {t.max_drop_points:g} point", drop <= t.max_drop_points, cmd),
    ]


def demo_section(work: Path, task: str) -> list[str]:
    """Run one task's demo, then judge its figures; the demo's own report follows the table."""
    t = TARGETS[task]
    demo_out = work / f"demo-{task}"
    demo = run_demo(demo_out, task)
    results = demo_out / "results"
    base = json.loads((results / "benchmark_base_cpu.json").read_text())
    pruned = json.loads((results / "benchmark_pruned_cpu.json").read_text())
    lat = side_by_side(results / "model", results / "pruned")
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


def fast_scnn(work: Path) -> list[str]:
    """Fast-SCNN, the lightweight PaddleSeg network, through the stage functions on the same sample."""
    from slimpipe.stages.benchmark import benchmark
    from slimpipe.stages.prune_train import prune_train
    from slimpipe.stages.sensitivity import sensitivity
    from slimpipe.stages.train import train

    data = work / "demo-segmentation" / "segmentation-sample"
    out = work / "fast_scnn"
    start = time.perf_counter()
    train(data, out / "model", task="segmentation", arch="fast_scnn", epochs=6)
    sensitivity(out / "model", data, out / "sensitivities.json")
    prune_train(out / "model", data, out / "sensitivities.json", out / "pruned", eval_metric_loss=0.05, epochs=4)
    results = [benchmark(out / name, data, out / f"{name}.json") for name in ("model", "pruned")]
    seconds = time.perf_counter() - start
    cmd = ("python -m bench.run (fast_scnn: train 6 epochs, sensitivity, prune-train --eval-metric-loss 0.05 "
           f"4 epochs, benchmark; {seconds:.0f} s in all)")
    lat = side_by_side(out / "model", out / "pruned")
    t = Targets("Semantic segmentation (Fast-SCNN, bundled fundus sample)", 300, 1.8, 1.0, params=0.5)
    return [f"## {t.title}", "", *table(pruning_rows(*results, lat, t, cmd)), ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="bench/results.md")
    args = parser.parse_args()
    work = ROOT / "bench" / "work"
    lines = ["# Benchmark results", "",
             f"Written by `make bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
             f"host: {platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
             f"Python {platform.python_version()}.", ""]
    lines += demo_section(work, "classification")
    lines += demo_section(work, "segmentation")
    lines += fast_scnn(work)
    lines += demo_section(work, "detection")
    lines += ["## GPU (TensorRT)", "", "Not measured: no GPU on the machine that ran `make bench`.", ""]
    from slimpipe import atomic

    atomic.write_text(ROOT / args.out, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
