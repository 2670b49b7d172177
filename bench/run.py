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
from pathlib import Path

import slimpipe  # noqa: F401  (Pillow before paddle)

ROOT = Path(__file__).resolve().parent.parent


def run_demo(out: Path) -> dict:
    """Run the demo exactly as `make demo` does, in a child process; wall time and peak memory."""
    import shutil

    shutil.rmtree(out, ignore_errors=True)  # a fresh run each time: nothing cached from a previous bench
    cmd = [sys.executable, "-m", "slimpipe.demo", "--out", str(out)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    wall = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"command": "make demo  (python -m slimpipe.demo --out " + str(out.relative_to(ROOT)) + ")",
            "seconds": wall, "peak_rss_gb": peak_kib / 1024 / 1024}


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


def classification(work: Path) -> list[str]:
    demo_out = work / "demo"
    demo = run_demo(demo_out)
    results = demo_out / "results"
    base = json.loads((results / "benchmark_base_cpu.json").read_text())
    pruned = json.loads((results / "benchmark_pruned_cpu.json").read_text())
    lat = side_by_side(results / "model", results / "pruned")
    drop = 100 * (base["metric_value"] - pruned["metric_value"])
    pruned_flops = 1 - pruned["flops"] / base["flops"]
    pruned_params = 1 - pruned["params"] / base["params"]
    cmd_lat = "python -m bench.run (side_by_side: 5 alternating rounds x 50 runs, CPU, MKLDNN off, 1 thread)"
    rows = [
        ("`make demo` wall time (after install)", f"{demo['seconds']:.0f} s", "<= 300 s",
         demo["seconds"] <= 300, demo["command"]),
        ("`make demo` peak memory (largest process)", f"{demo['peak_rss_gb']:.2f} GB", "<= 3 GB",
         demo["peak_rss_gb"] <= 3, demo["command"]),
        ("FLOPs removed at eval_metric_loss 0.05", f"{100 * pruned_flops:.1f}%", ">= 50%",
         pruned_flops >= 0.5, demo["command"]),
        ("Parameters removed at eval_metric_loss 0.05", f"{100 * pruned_params:.1f}%", "-", None, demo["command"]),
        ("CPU latency (MKLDNN off), base -> pruned",
         f"{lat['base_ms']:.2f} ms -> {lat['pruned_ms']:.2f} ms", "-", None, cmd_lat),
        ("CPU speed-up, same run", f"{lat['speedup']:.2f}x", ">= 1.8x", lat["speedup"] >= 1.8, cmd_lat),
        ("Accuracy, base -> pruned (val, through the predictor)",
         f"{base['metric_value']:.4f} -> {pruned['metric_value']:.4f} ({-drop:+.2f} points)", "drop <= 1 point",
         drop <= 1.0, demo["command"]),
    ]
    lines = ["## Image classification (MobileNetV2, bundled digits sample)", "",
             "| figure | measured | target | met | command |", "| --- | --- | --- | --- | --- |"]
    for name, value, target, met, cmd in rows:
        flag = "-" if met is None else ("yes" if met else "NO")
        lines.append(f"| {name} | {value} | {target} | {flag} | `{cmd}` |")
    report = (results / "report.md").read_text()
    lines += ["", "The demo's own report (benchmarked by its benchmark stage, same run):", "", report]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="bench/results.md")
    args = parser.parse_args()
    work = ROOT / "bench" / "work"
    lines = ["# Benchmark results", "",
             f"Written by `make bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
             f"host: {platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
             f"Python {platform.python_version()}.", ""]
    lines += classification(work)
    lines += ["## GPU (TensorRT)", "", "Not measured: no GPU on the machine that ran `make bench`.", ""]
    from slimpipe import atomic

    atomic.write_text(ROOT / args.out, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
