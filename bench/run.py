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


def side_by_side(base_dir: Path, pruned_dir: Path, dataset: Path, rounds: int = 5, repeats: int = 50) -> dict:
    """Alternate base and pruned predictors (CPU, MKLDNN off, 1 thread, batch 1) on the first val image
    (with every input the model takes); median of round means."""
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


from slimpipe.stages.report import METRIC_TITLES  # noqa: E402  (after slimpipe's Pillow-first import)


# A metric drop only says something about pruning when the base model works: below this the target is
# reported as not met, whatever the drop.
MEANINGFUL_BASE = 0.5


def pruning_rows(base: dict, pruned: dict, lat: dict, t: Targets, cmd: str, judge_metric: bool = True) -> list[tuple]:
    """FLOPs, parameters, side-by-side latency and metric rows, judged against `t` (the metric drop only
    when `judge_metric`: a section with a control judges it there)."""
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
        (f"{METRIC_TITLES.get(metric, metric)}, base -> pruned (val, through the predictor)",
         f"{base['metric_value']:.4f} -> {pruned['metric_value']:.4f} ({-drop:+.2f} points)",
         *_drop_target(drop, base["metric_value"], t, judge_metric), cmd),
    ]


def _drop_target(drop: float, base_value: float, t: Targets, judge: bool = True) -> tuple[str, bool | None]:
    if not judge:
        return "see the control below", None
    return (f"drop <= {t.max_drop_points:g} point, from a base >= {MEANINGFUL_BASE}",
            drop <= t.max_drop_points and base_value >= MEANINGFUL_BASE)


def demo_section(work: Path, task: str) -> list[str]:
    """Run one task's demo, then judge its figures; the demo's own report follows the table."""
    t = TARGETS[task]
    demo_out = work / f"demo-{task}"
    demo = run_demo(demo_out, task)
    results = demo_out / "results"
    base = json.loads((results / "benchmark_base_cpu.json").read_text())
    pruned = json.loads((results / "benchmark_pruned_cpu.json").read_text())
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


def control_row(metric: str, epochs: int, control: float, pruned: dict, t: Targets, cmd: str) -> tuple:
    """The unpruned control against the pruned model: the drop that pruning itself costs."""
    value = pruned["metric_value"]
    drop = 100 * (control - value)
    return (f"{METRIC_TITLES.get(metric, metric)}, unpruned model retrained the same {epochs} epochs -> pruned",
            f"{control:.4f} -> {value:.4f} ({-drop:+.2f} points)", *_drop_target(drop, control, t), cmd)


def retrained_unpruned(model: Path, data: Path, prune_kwargs: dict) -> tuple[str, int, float]:
    """The base model given prune-train's retraining (same epochs, batch, learning rate and seed) without
    pruning: (metric name, epochs, best val metric)."""
    import inspect

    from slimpipe import modeldir
    from slimpipe.stages.common import load_split_for
    from slimpipe.stages.prune_train import prune_train
    from slimpipe.tasks import get_task
    from slimpipe.training import TrainSettings, fit

    defaults = {k: v.default for k, v in inspect.signature(prune_train).parameters.items()}
    settings = TrainSettings(**{k: prune_kwargs.get(k, defaults[k]) for k in ("epochs", "batch_size",
                                                                            "learning_rate", "seed")})
    net, info = modeldir.load(model)
    task = get_task(info.task)
    best = fit(net, task, load_split_for(info, data, "train"), load_split_for(info, data, "val"), settings,
               label="control")
    return task.metric_name, settings.epochs, best[task.metric_name]


def fast_scnn(work: Path) -> list[str]:
    """Fast-SCNN, the lightweight PaddleSeg network, on the segmentation demo's sample."""
    t = Targets("Semantic segmentation (Fast-SCNN, bundled fundus sample)", 300, 1.8, 1.0, params=0.5)
    return staged_section(work, "fast_scnn", work / "demo-segmentation" / "segmentation-sample", t,
                          {"task": "segmentation", "arch": "fast_scnn", "epochs": 6}, {"epochs": 4},
                          "train 6 epochs, sensitivity, prune-train --eval-metric-loss 0.05 4 epochs, benchmark")


def detection_longer(work: Path, epochs: int = 80) -> list[str]:
    """The demo's detector trained `epochs` instead of 12, so that the mAP drop is measured from a detector
    that finds objects (the demo's 5 minutes leave it at a low mAP), and against an unpruned control."""
    from slimpipe.demo import DEMO_SETTINGS
    from slimpipe.models.registry import parse_options
    from slimpipe.tasks import get_task

    demo = DEMO_SETTINGS["detection"]
    data = work / "detection_longer" / "detection-sample"
    if not (data / "labels.txt").exists():
        get_task("detection").write_sample(data)
    t = Targets(f"Object detection, trained {epochs} epochs (YOLOv3-MobileNetV1, bundled shapes sample)", 0, 1.4,
                1.0, params=0.4)
    size = (demo.input_size, demo.input_size)
    train_kwargs = {"task": "detection", "arch": demo.arch, "arch_options": parse_options(demo.arch_options),
                    "input_size": size, "epochs": epochs, "batch_size": demo.batch_size}
    return staged_section(work, "detection_longer", data, t, train_kwargs,
                          {"epochs": 12, "batch_size": demo.batch_size},
                          f"the detection demo's model and settings, train {epochs} epochs, sensitivity, prune-train "
                          "--eval-metric-loss 0.05 12 epochs, benchmark, unpruned control", control=True)


def _timed(fn, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def paddleslim_sensitive(model: Path, dataset: Path, layers: list[str], sen_file: Path) -> dict[str, dict]:
    """PaddleSlim's own FilterPruner.sensitive() (structural prune, dygraph evaluation of the whole val
    split, restore) on the same layers and ratios 0.1..0.9; keyed by our structured layer names."""
    from paddleslim.dygraph import L1NormFilterPruner

    from slimpipe import modeldir
    from slimpipe.evaluation import dygraph_forward, evaluate
    from slimpipe.stages.common import load_split_for
    from slimpipe.tasks import get_task

    net, info = modeldir.load(model)
    task, val = get_task(info.task), load_split_for(info, dataset, "val")
    pruner = L1NormFilterPruner(net, info.input_shape())
    to_param = {n: p.name for n, p in net.named_parameters()}
    result = pruner.sensitive(eval_func=lambda: evaluate(dygraph_forward(net), task, val)[task.metric_name],
                              sen_file=str(sen_file), target_vars=[to_param[layer] for layer in layers])
    by_param = {v: k for k, v in to_param.items()}
    return {by_param[name]: {round(float(r), 2): float(v) for r, v in losses.items()} for name, losses in result.items()}


def ratio_shift(a: dict[str, float], b: dict[str, float]) -> float:
    """Largest difference of per-layer pruning ratios (a layer absent from one counts as ratio 0)."""
    return max([abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b)], default=0.0)


def classification_inputs(work: Path, name: str) -> tuple[Path, Path, Path]:
    """The classification demo's trained model and sample, and a fresh folder `work/name` for results."""
    import shutil

    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return work / "demo-classification" / "results" / "model", work / "demo-classification" / "classification-sample", out


def sensitivity_speed(work: Path) -> list[str]:
    """Issue 8's ratios: our analysis against PaddleSlim's sensitive(), and the subset."""
    from paddleslim.dygraph.prune.filter_pruner import FilterPruner

    from slimpipe.pruning import sensitivity as sens
    from slimpipe.stages.sensitivity import sensitivity

    model, data, out = classification_inputs(work, "sensitivity")
    ours, t_ours = _timed(sensitivity, model, data, out / "ours.json", threads=2)
    theirs, t_theirs = _timed(paddleslim_sensitive, model, data, list(ours["sensitivities"]), out / "paddleslim.sen")
    ours_ratios = rules_at(sens.read(out / "ours.json")["table"])
    theirs_ratios = FilterPruner._get_ratios_by_loss(None, theirs, 0.05)
    sub, t_sub = _timed(sensitivity, model, data, out / "subset.json", threads=2, subset=100)
    sub_ratios = rules_at(sens.read(out / "subset.json")["table"])
    n_eval = ours["evaluations"]
    cmd_s = "python -m bench.run (sensitivity_speed: classification demo model, 359 val images, ratios 0.1..0.9)"
    rows = [
        ("Evaluations (layers x ratios)", f"{n_eval} ({len(ours['sensitivities'])} layers x 9)", "-", None, cmd_s),
        ("slimpipe sensitivity (one MKLDNN predictor, masked parameters overwritten in place, 2 threads)",
         f"{t_ours:.0f} s ({ours['seconds_per_evaluation']:.3f} s per evaluation)", "-", None, cmd_s),
        ("PaddleSlim FilterPruner.sensitive() (dygraph evaluation)", f"{t_theirs:.0f} s "
         f"({t_theirs / n_eval:.3f} s per evaluation)", "-", None, cmd_s),
        ("Speed-up over PaddleSlim, same run", f"{t_theirs / t_ours:.2f}x", ">= 3x", t_theirs / t_ours >= 3, cmd_s),
        ("Per-layer ratios at eval_metric_loss 0.05, largest difference from PaddleSlim's",
         f"{ratio_shift(ours_ratios, theirs_ratios):.4f}", "same ratios", ratio_shift(ours_ratios, theirs_ratios) < 1e-3,
         cmd_s),
        ("With a 100-image class-balanced subset", f"{t_sub:.0f} s ({t_ours / t_sub:.2f}x faster than all 359)",
         "-", None, cmd_s),
        ("Subset: largest change of a layer's ratio at 0.05", f"{ratio_shift(ours_ratios, sub_ratios):.4f}", "-", None,
         cmd_s),
    ]
    return ["## Sensitivity analysis: speed and subset (issue 8)", "", *table(rows), ""]


def _run_shards(model: Path, data: Path, out: Path, count: int, threads: int) -> float:
    """Wall time of `count` `slimpipe sensitivity --shard i/count` processes run at once."""
    cmd = [sys.executable, "-m", "slimpipe", "sensitivity", "--model", str(model), "--dataset", str(data),
           "--threads", str(threads)]
    start = time.perf_counter()
    procs = [subprocess.Popen(cmd + ["--shard", f"{i}/{count}", "--out", str(out / f"{count}-{threads}-{i}.json")],
                              stderr=subprocess.DEVNULL) for i in range(count)]
    if any(p.wait() for p in procs):
        raise RuntimeError("a shard failed")
    return time.perf_counter() - start


def shard_speed(work: Path) -> list[str]:
    """One shard against two, every run a `slimpipe sensitivity` process (start-up included alike)."""
    from slimpipe.pruning import sensitivity as sens
    from slimpipe.stages.sensitivity import merge_sensitivities

    model, data, out = classification_inputs(work, "shards")
    one_2t = _run_shards(model, data, out, 1, threads=2)
    one_1t = _run_shards(model, data, out, 1, threads=1)
    two = _run_shards(model, data, out, 2, threads=1)
    merged = merge_sensitivities([out / "2-1-0.json", out / "2-1-1.json"], out / "merged.json")
    whole = sens.read(out / "1-1-0.json")
    worst = max(abs(merged["sensitivities"][k][r] - v) for k, d in whole["sensitivities"].items() for r, v in d.items())
    cmd = ("python -m bench.run --only shards (slimpipe sensitivity --shard i/n processes; classification demo "
           "model, 359 val images, ratios 0.1..0.9)")
    rows = [
        ("One shard, 2 threads (both cores in one process)", f"{one_2t:.0f} s", "-", None, cmd),
        ("One shard, 1 thread (the per-shard setting)", f"{one_1t:.0f} s", "-", None, cmd),
        ("One shard: speed-up from its second thread (s)", f"{one_1t / one_2t:.2f}x", "-", None, cmd),
        ("Two shards at once, 1 thread each", f"{two:.0f} s", "-", None, cmd),
        ("Two shards vs one shard, same per-shard setting (1 thread each), same run", f"{one_1t / two:.2f}x",
         ">= 1.6x", one_1t / two >= 1.6, cmd),
        ("Two shards vs one shard using both cores, same run", f"{one_2t / two:.2f}x",
         f"at most 2/s = {2 * one_2t / one_1t:.2f}x on 2 cores", None, cmd),
        ("Merged shards vs unsharded, largest loss difference", f"{worst:.2e}", "<= 1e-6", worst <= 1e-6, cmd),
    ]
    return ["## Sensitivity analysis: two shards against one (issue 8)", "", *table(rows), ""]


def container_section(work: Path) -> list[str]:
    """Issue 14's figures: the classification demo with every step in its image against the same demo in
    subprocesses (one after the other in this run), a step's container start, the image's size and what
    fills it, and the CPU image's cold and warm build times."""
    import statistics

    def sh(cmd: str, **kwargs) -> subprocess.CompletedProcess:
        """`cmd` in bash with the engine and its settings chosen as the image scripts choose them ($ENGINE)."""
        return subprocess.run(["bash", "-c", f"source images/engine.sh && {cmd}"], check=True, cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, **kwargs)

    from components._image import CPU_IMAGE

    sh("make -s base-images")
    start = time.perf_counter()
    sh("EXTRA_BUILD_ARGS=--no-cache make -s image-cpu")
    cold = time.perf_counter() - start
    start = time.perf_counter()
    sh("make -s image-cpu")
    warm = time.perf_counter() - start
    env = dict(os.environ, DOCKER_HOST=sh("images/docker-api.sh").stdout.strip())
    engine = sh("echo $ENGINE", env=env).stdout.strip()
    size = int(sh(f"$ENGINE image inspect --format '{{{{.Size}}}}' {CPU_IMAGE}", env=env).stdout.strip())
    largest = sh(f"$ENGINE run --rm --entrypoint sh {CPU_IMAGE} -c 'du -sm /usr/local/lib/python3.11/dist-packages/* "
                 f"| sort -rn | head -n 4'", env=env).stdout.split("\n")
    starts = []
    for _ in range(5):
        t0 = time.perf_counter()
        sh(f"$ENGINE run --rm {CPU_IMAGE} python3 -c pass", env=env)
        starts.append(time.perf_counter() - t0)
    host_py = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        host_py.append(time.perf_counter() - t0)
    sub = run_demo(work / "ct-subprocess", "classification")
    con = run_demo(work / "ct-container", "classification", runner="container", env=env)
    ratio = con["seconds"] / sub["seconds"]
    top = ", ".join(f"{line.split()[1].rsplit('/', 1)[-1]} {line.split()[0]} MB" for line in largest if line.strip())
    rows = [
        ("whole classification demo, every step in its image", f"{con['seconds']:.0f} s", "", None, con["command"]),
        ("the same demo, every step a subprocess", f"{sub['seconds']:.0f} s", "", None, sub["command"]),
        ("container run / subprocess run", f"{ratio:.2f}x", "<= 1.3x", ratio <= 1.3,
         "the two rows above, one after the other in this run"),
        ("a step's container start (python3 -c pass), median of 5",
         f"{statistics.median(starts):.2f} s (host python: {statistics.median(host_py):.2f} s)", "", None,
         f"{engine} run --rm {CPU_IMAGE} python3 -c pass"),
        (f"CPU image size (largest: {top})", f"{size / 1e9:.2f} GB", "<= 1.5 GB", size <= 1.5e9,
         f"{engine} image inspect {CPU_IMAGE}"),
        ("CPU image build, cold (no cache; base image present)", f"{cold:.0f} s", "", None,
         "EXTRA_BUILD_ARGS=--no-cache make image-cpu"),
        ("CPU image build, warm (code unchanged)", f"{warm:.0f} s", "", None, "make image-cpu"),
    ]
    return ["## Containers: the pipeline in its images", "", *table(rows)]


def rules_at(table: dict, threshold: float = 0.05) -> dict[str, float]:
    from slimpipe.pruning.rules import ratios_by_loss

    return ratios_by_loss(table, threshold)


def gpu_section(work: Path) -> list[str]:
    from slimpipe.inference import gpu_unavailable_reason

    reason = gpu_unavailable_reason(trt=True)
    if reason:
        return ["## GPU (TensorRT)", "", f"Not measured: {reason} (on the machine that ran `make bench`).", ""]
    return ["## GPU (TensorRT)", "", "A GPU is present: run `slimpipe benchmark --device gpu --trt` on the "
            "demo models; this bench does not time GPUs yet, so no figure is given here.", ""]


def _section(module: str, name: str):
    """A section function from its own module (bench/<module>.py), imported when it runs."""
    import importlib

    return getattr(importlib.import_module(module), name)


def fold_section(work: Path) -> list[str]:
    """Issue 15's faster analysis: a warm evaluation with batch norm folded against unfolded, side by side."""
    from bench.fold_speed import fold_speed

    demo = work / "demo-classification"
    if not (demo / "results/model").exists():
        run_demo(demo, "classification")
    return ["## Sensitivity analysis: batch norm folded (issue 15)", "",
            "| figure | measured | target | met | command |", "| --- | --- | --- | --- | --- |",
            *fold_speed(demo / "results/model", demo / "classification-sample"), ""]


def serving_section(work: Path) -> list[str]:
    """Issue 16's serving latency: `slimpipe serve` (Open Inference Protocol v2) for the base and the pruned model
    under a small concurrent load from a loopback client, both servers measured in one run."""
    from bench.serving import serving_latency

    demo = work / "demo-classification"
    if not (demo / "results/pruned").exists():
        run_demo(demo, "classification")
    return ["## Serving: slimpipe serve, Open Inference Protocol v2 (issue 16)", "",
            "| figure | measured | target | met | command |", "| --- | --- | --- | --- | --- |",
            *serving_latency(demo / "results/model", demo / "results/pruned", demo / "classification-sample"), ""]


# Each section is written to bench/sections/<name>.md as soon as it is measured; results.md is assembled
# from them, so `--only NAME` refreshes one section and keeps the others (each stamped with its own date).
SECTIONS = {
    "classification": lambda work: demo_section(work, "classification"),
    "segmentation": lambda work: demo_section(work, "segmentation"),
    "fast_scnn": fast_scnn,
    "detection": lambda work: demo_section(work, "detection"),
    "detection_longer": detection_longer,
    "sensitivity": sensitivity_speed,
    "shards": shard_speed,
    "gpu": gpu_section,
    "containers": container_section,
    "latency_classification": lambda work: _section("bench.latency_target", "latency_target_section")(
        work, "classification"),
    "latency_segmentation": lambda work: _section("bench.latency_target", "latency_target_section")(
        work, "segmentation"),
    "latency_detection": lambda work: _section("bench.latency_target", "latency_target_section")(work, "detection"),
    "fold": lambda work: fold_section(work),
    "serving": lambda work: serving_section(work),
}


def main() -> None:
    from slimpipe import atomic

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="bench/results.md")
    parser.add_argument("--only", nargs="*", choices=sorted(SECTIONS), default=None,
                        help="measure these sections (fast_scnn and sensitivity reuse the demos' outputs)")
    args = parser.parse_args()
    work, sections = ROOT / "bench" / "work", ROOT / "bench" / "sections"
    host = (f"host: {platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
            f"Python {platform.python_version()}")
    for name in args.only or SECTIONS:
        lines = SECTIONS[name](work)
        stamp = f"_Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {host}._"
        atomic.write_text(sections / f"{name}.md", "\n".join([lines[0], "", stamp, *lines[1:]]) + "\n")
    parts = [(sections / f"{name}.md").read_text() for name in SECTIONS if (sections / f"{name}.md").exists()]
    text = "# Benchmark results\n\nWritten by `make bench` (`python -m bench.run`); every figure names the " \
           "command that produced it.\n\n" + "\n".join(parts)
    atomic.write_text(ROOT / args.out, text)
    print(text)


if __name__ == "__main__":
    main()
