"""Issue 15, part 4: the sensitivity analysis's evaluation with batch norm folded against the unfused one.

Both evaluators live in one process and are timed in alternating rounds (the same (layer, ratio) pairs,
folded then unfused), so machine noise hits both alike; then the whole analysis runs once each way and
its per-layer ratios at eval_metric_loss 0.05 are compared.

    .venv/bin/python -m bench.jobs.fold MODEL_DIR DATASET   # prints the table
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

from bench.common import demo_dir, ratio_shift, rules_at, table, timed

NAME = "fold"
DEPENDS = ("classification",)  # the demo's trained model and sample
THREADS = 2
ROUNDS = 5
LAYERS = 6  # evenly spread over the prunable layers
RATIOS = (0.3, 0.6)
LOSS = 0.05


def fold_speed(model: Path, dataset: Path) -> list[str]:
    """The markdown table |figure|measured|target|met|command| (bench.common's `table`)."""
    import numpy as np

    from slimpipe import modeldir
    from slimpipe.evaluation import evaluate
    from slimpipe.pruning import sensitivity as sens
    from slimpipe.pruning.channels import ChannelPruner
    from slimpipe.pruning.masked_eval import MaskedEvaluator
    from slimpipe.stages import sensitivity as stage
    from slimpipe.stages.common import load_split_for
    from slimpipe.tasks import get_task

    net, info = modeldir.load(model)
    task = get_task(info.task)
    val = load_split_for(info, dataset, "val")
    pruner = ChannelPruner(net, info.input_shape())
    layers = pruner.verified_layers(info.input_shape())
    pairs = [(layers[i], r) for i in np.linspace(0, len(layers) - 1, LAYERS).round().astype(int) for r in RATIOS]
    probe = task.feeds(val, np.arange(min(stage.PROBE_IMAGES, len(val))))
    shapes = task.input_shapes(info.input_size)
    evaluators = {"unfused": MaskedEvaluator(net, shapes, probe, threads=THREADS),
                  "folded": MaskedEvaluator(net, shapes, probe, threads=THREADS, fold=True)}
    if not evaluators["folded"].folded or evaluators["unfused"].folded or not evaluators["unfused"].in_place:
        raise RuntimeError("fold_speed: the two evaluators did not take the folded and the in-place paths")

    def timed(name: str, layer: str, ratio: float) -> tuple[float, float]:
        start = time.perf_counter()
        with pruner.masked(layer, ratio) as changed, evaluators[name].predictor(changed) as predictor:
            metric = float(evaluate(predictor, task, val)[task.metric_name])
        return time.perf_counter() - start, metric

    for name in evaluators:  # warm-up: oneDNN's first run of each shape
        timed(name, *pairs[0])
    seconds = {name: [] for name in evaluators}
    metrics = {name: [] for name in evaluators}
    for _ in range(ROUNDS):
        for layer, ratio in pairs:
            for name in ("folded", "unfused"):
                t, m = timed(name, layer, ratio)
                seconds[name].append(t)
                metrics[name].append(m)
    per_eval = {name: float(np.median(v)) for name, v in seconds.items()}
    metric_gap = max(abs(a - b) for a, b in zip(metrics["folded"], metrics["unfused"]))

    with tempfile.TemporaryDirectory(prefix="fold-speed-") as tmp:
        folded_run, t_folded = timed(stage.sensitivity, model, dataset, Path(tmp, "folded.json"), threads=THREADS)
        unfused = (lambda *a, **k: MaskedEvaluator(*a, **{**k, "fold": False}))
        with mock.patch.object(stage, "MaskedEvaluator", unfused):
            unfused_run, t_unfused = timed(stage.sensitivity, model, dataset, Path(tmp, "unfused.json"),
                                            threads=THREADS)
        shift = ratio_shift(rules_at(sens.read(Path(tmp, "folded.json"))["table"], LOSS),
                            rules_at(sens.read(Path(tmp, "unfused.json"))["table"], LOSS))
    if not folded_run["folded_evaluation"] or unfused_run["folded_evaluation"]:
        raise RuntimeError("fold_speed: the whole analyses did not take the folded and the unfused paths")

    cmd = (f"python -m bench.jobs.fold {model} {dataset}  (fold_speed: {len(val)} val images, {THREADS} threads, "
           f"{ROUNDS} alternating rounds x {len(pairs)} (layer, ratio) pairs, median)")
    n_eval = folded_run["evaluations"]
    rows = [
        ("Warm evaluation, unfused predictor (masked parameters overwritten in place)",
         f"{per_eval['unfused']:.3f} s", "-", None, cmd),
        ("Warm evaluation, batch norm folded (masked network's folded tensors written in place), same run",
         f"{per_eval['folded']:.3f} s", "-", None, cmd),
        ("Folded evaluation speed-up, same run", f"{per_eval['unfused'] / per_eval['folded']:.2f}x", "> 1x",
         per_eval["unfused"] > per_eval["folded"], cmd),
        (f"Largest {task.metric_name} difference between the two, same {len(metrics['folded'])} evaluations",
         f"{metric_gap:.4f}", "same metric", metric_gap < 1e-6, cmd),
        (f"Whole analysis ({n_eval} evaluations), unfused -> folded",
         f"{t_unfused:.0f} s -> {t_folded:.0f} s ({unfused_run['seconds_per_evaluation']:.3f} -> "
         f"{folded_run['seconds_per_evaluation']:.3f} s per evaluation)", "-", None, cmd),
        (f"Per-layer ratios at eval_metric_loss {LOSS}, largest difference folded vs unfused", f"{shift:.4f}",
         "same ratios", shift < 1e-3, cmd),
    ]
    return table(rows)


def run(work: Path) -> list[str]:
    """A warm evaluation with batch norm folded against unfolded, side by side, on the classification demo's model."""
    demo = demo_dir(work, "classification")
    return ["## Sensitivity analysis: batch norm folded (issue 15)", "",
            *fold_speed(demo / "results/model", demo / "classification-sample"), ""]


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m bench.jobs.fold MODEL_DIR DATASET")
    print("\n".join(fold_speed(Path(sys.argv[1]), Path(sys.argv[2]))))
