"""What the bench sections share: the repo root, the demo run, side-by-side latency, the table format, timing.

Latency speed-ups are ratios measured side by side: both predictors loaded in one process and timed in
alternating rounds, so machine noise hits both alike.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import slimpipe  # noqa: F401  (Pillow before paddle)
from slimpipe.stages.report import METRIC_TITLES  # noqa: F401  (re-exported for the sections)

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"

# Runs a command and prints the peak RSS (KiB) of its largest descendant: RUSAGE_CHILDREN of this
# process alone, so each demo's figure is its own and not the maximum over the whole bench.
PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "print('peak_kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")

TABLE_HEAD = ["| figure | measured | target | met | command |", "| --- | --- | --- | --- | --- |"]


def demo_dir(work: Path, task: str) -> Path:
    """Where a task's demo section leaves the demo's outputs (`make demo`'s --out), which later sections reuse."""
    return work / f"demo-{task}"


def demo_outputs(task: str) -> tuple[str, ...]:
    """The demo outputs, relative to the bench's work folder, that other sections read: the task's demo
    section declares them as its OUTPUTS."""
    results = f"demo-{task}/results"
    return (f"demo-{task}/{task}-sample", f"{results}/model", f"{results}/pruned", f"{results}/sensitivities.json",
            f"{results}/benchmark_base_cpu.json", f"{results}/benchmark_pruned_cpu.json")


def run_demo(out: Path, task: str, runner: str = "subprocess", env: dict | None = None) -> dict:
    """Run the demo exactly as `make demo TASK=... [RUNNER=container]` does, in a child process; wall time and
    peak memory (of this process's children: with containers, the steps' memory is the engine's)."""
    import shutil

    shutil.rmtree(out, ignore_errors=True)  # a fresh run each time: nothing cached from a previous bench
    cmd = [sys.executable, "-m", "slimpipe.demo", "--task", task, "--out", str(out), "--runner", runner]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, *cmd], check=True, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                          env=env)
    wall = time.perf_counter() - start
    sys.stdout.write(done.stdout)
    peak_kib = int(done.stdout.rsplit("peak_kib", 1)[1])
    make = f"make demo TASK={task}" + (f" RUNNER={runner}" if runner != "subprocess" else "")
    return {"command": f"{make}  (python -m slimpipe.demo --task {task} --out {out.relative_to(ROOT)} "
                       f"--runner {runner})", "seconds": wall, "peak_rss_gb": peak_kib / 1024 / 1024}


def read_json(path: Path) -> dict:
    """A benchmark result the demo wrote (benchmark_base_cpu.json, benchmark_pruned_cpu.json)."""
    return json.loads(path.read_text())


def side_by_side(base_dir: Path, pruned_dir: Path, dataset: Path, rounds: int = 5, repeats: int = 50) -> dict:
    """Alternate base and pruned predictors (CPU, MKLDNN off, 1 thread, batch 1) on the first val image
    (with every input the model takes); median of round means (`speedup`, judged), and beside it the median
    of round medians (`speedup_p50`, the statistic prune-train's loop and the latency table time by, which
    host interruptions move less)."""
    import numpy as np

    from slimpipe import modeldir
    from slimpipe.inference import Predictor, PredictorSettings, make_config
    from slimpipe.stages.benchmark import time_runs
    from slimpipe.stages.common import load_split_for
    from slimpipe.tasks import get_task

    info = modeldir.read_info(base_dir)
    feed = get_task(info.task).feeds(load_split_for(info, dataset, "val"), np.arange(1))
    predictors = {name: Predictor(make_config(*modeldir.inference_paths(d), PredictorSettings()))
                  for name, d in (("base", base_dir), ("pruned", pruned_dir))}
    means, p50s = {"base": [], "pruned": []}, {"base": [], "pruned": []}
    for _ in range(rounds):
        for name, predictor in predictors.items():
            timed = time_runs(predictor, feed, warmup=10, repeats=repeats)
            means[name].append(timed["mean"])
            p50s[name].append(timed["p50"])
    med = {k: float(np.median(v)) for k, v in means.items()}
    p50 = {k: float(np.median(v)) for k, v in p50s.items()}
    return {"base_ms": med["base"], "pruned_ms": med["pruned"], "speedup": med["base"] / med["pruned"],
            "speedup_p50": p50["base"] / p50["pruned"], "rounds": rounds, "repeats": repeats}


def side_by_side_repeated(base_dir: Path, pruned_dir: Path, dataset: Path, times: int = 5) -> dict:
    """`side_by_side` `times` times in a row: the run whose speed-up is the median, with every speed-up
    (`speedups`); `speedup_p50` is the median of the runs' own speed-ups by medians (not the median run's).
    On this host one pair of models measured 1.7x and 2.1x half a minute apart (the unpruned model flips
    between about 16.4 and 18.7 ms, bench/studies/regimes.py), so a single measurement decides nothing near
    a target."""
    runs = sorted((side_by_side(base_dir, pruned_dir, dataset) for _ in range(times)), key=lambda r: r["speedup"])
    return dict(runs[len(runs) // 2], speedups=[r["speedup"] for r in runs],
                speedup_p50=statistics.median(r["speedup_p50"] for r in runs))


def val_images(model: Path, dataset: Path) -> int:
    """How many val images the model's evaluation reads from `dataset` (for the figures' commands)."""
    from slimpipe import modeldir
    from slimpipe.stages.common import load_split_for

    return len(load_split_for(modeldir.read_info(model), dataset, "val"))


def table(rows: list[tuple]) -> list[str]:
    """A markdown table of (figure, measured, target, met, command) rows; met None = not judged ("-")."""
    lines = list(TABLE_HEAD)
    for name, value, target, met, cmd in rows:
        flag = "-" if met is None else ("yes" if met else "NO")
        lines.append(f"| {name} | {value} | {target} | {flag} | `{cmd}` |")
    return lines


def timed(fn, *args, **kwargs) -> tuple[object, float]:
    """`fn(*args, **kwargs)` and its wall time in seconds."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def rules_at(table: dict, threshold: float = 0.05) -> dict[str, float]:
    """slimpipe's per-layer ratios for an eval_metric_loss threshold."""
    from slimpipe.pruning.rules import ratios_by_loss

    return ratios_by_loss(table, threshold)


def ratio_shift(a: dict[str, float], b: dict[str, float]) -> float:
    """Largest difference of per-layer pruning ratios (a layer absent from one counts as ratio 0)."""
    return max([abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b)], default=0.0)


def classification_inputs(work: Path, name: str) -> tuple[Path, Path, Path]:
    """The classification demo's trained model and sample, and a fresh folder `work/name` for results."""
    import shutil

    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    demo = demo_dir(work, "classification")
    return demo / "results" / "model", demo / "classification-sample", out
