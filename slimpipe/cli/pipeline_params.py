"""Pipeline parameters as command-line flags, derived from the pipeline's own signature (one source of
defaults): `eval_metric_loss` becomes `--eval-metric-loss`, booleans become switches."""
from __future__ import annotations

import argparse
import inspect
import json
from typing import Any

from slimpipe.cli import options

HELP = {
    "dataset": "dataset folder or object-store URI (s3://bucket/prefix)",
    "task": "classification, segmentation or detection",
    "arch": "architecture (empty = the task's default)",
    "arch_options": "architecture options, e.g. scale=0.35 (empty = the reference settings)",
    "input_size": "model input size, square (0 = the architecture's default)",
    "epochs": "training epochs",
    "prune_epochs": "retraining epochs after pruning",
    "eval_metric_loss": "largest relative metric loss per layer (used when --pruned-flops is 0)",
    "pruned_flops": "fraction of FLOPs to remove instead of a loss threshold (0 = off)",
    "target_speedup": "prune until the model runs this many times faster on the benchmark's CPU settings, e.g. 2 "
                      "(0 = off; measures a latency table)",
    "target_latency_ms": "prune until the model runs within this many ms on the benchmark's CPU settings (0 = off)",
    "max_layer_loss": "with a latency target: largest sensitivity loss any one layer may take (0 = the default)",
    "criterion": "channel ranking: l1_norm or fpgm",
    "ratios": "ratios tried per layer in the sensitivity analysis",
    "align": "keep channel counts at multiples of K (0 = off; -1 = 8 when --gpu-benchmark is on, else off)",
    "benchmark_threads": "CPU threads for the benchmark",
    "benchmark_warmup": "untimed runs before timing",
    "benchmark_repeats": "timed runs",
    "gpu_benchmark": "also benchmark on GPU with TensorRT (asks for nvidia.com/gpu)",
    "gpu_precision": "TensorRT precision: fp32, fp16 or int8",
    "gpu_node_selector": "node selector of the GPU task, as JSON",
    "gpu_tolerations": "tolerations of the GPU task, as a JSON list",
    "publish_to": "where to publish results: s3://bucket/name or a folder (empty = do not publish)",
    "batch_size": "training batch size, for training and retraining after pruning",
    "max_drop_points": "quality gate: largest metric drop, in points, that may move latest.json",
    "sensitivity_checkpoint": "object-store URI or path for the sensitivity checkpoint (empty = none)",
    "sensitivity_shards": "run the sensitivity analysis as N parallel shards, then merge them",
    "sensitivity_stop_loss": "stop a layer's analysis once its loss reaches this (0 = off)",
    "sensitivity_subset": "measure sensitivities on N val images, seeded and class-balanced (0 = all)",
    "sweep_losses": "prune at each of these eval_metric_loss values (e.g. 0.02,0.05,0.1) and keep the fastest "
                    "that passes the gate (empty = off)",
    "sweep_speedups": "prune at each of these speed-up targets (e.g. 1.5,2,3) and keep the fastest that passes "
                      "the gate (empty = off)",
    "object_store_secret": "Kubernetes secret with the object-store keys accesskey/secretkey",
}


def _signature() -> inspect.Signature:
    from slimpipe.kfp_pipeline import pipeline_func

    return inspect.signature(pipeline_func().pipeline_func)


EXCLUSIVE = ("eval_metric_loss", "pruned_flops", "target_speedup", "target_latency_ms")
# Parameters whose values have bounds, refused at parse time like the stages' own flags (0 and -1 are the
# pipeline's "off" and "default" where its help says so).
TYPES = {"epochs": options.COUNT, "prune_epochs": options.COUNT, "batch_size": options.COUNT,
         "benchmark_threads": options.COUNT, "benchmark_repeats": options.COUNT,
         "benchmark_warmup": options.NON_NEGATIVE, "sensitivity_shards": options.COUNT,
         "sensitivity_subset": options.NON_NEGATIVE, "input_size": options.NON_NEGATIVE,
         "align": options.bounded(int, -1), "sensitivity_stop_loss": options.bounded(float, 0.0),
         "eval_metric_loss": options.FINITE, "pruned_flops": options.FINITE, "max_drop_points": options.FINITE,
         "target_speedup": options.FINITE, "target_latency_ms": options.FINITE,
         "max_layer_loss": options.bounded(float, 0.0)}


def add_arguments(cmd: argparse.ArgumentParser) -> None:
    group = cmd.add_argument_group("pipeline parameters")
    target = group.add_mutually_exclusive_group()
    for name, param in _signature().parameters.items():
        flag = "--" + name.replace("_", "-")
        where = target if name in EXCLUSIVE else group
        default = None if param.default is inspect.Parameter.empty else param.default
        kind = param.annotation if param.annotation is not inspect.Parameter.empty else str
        kind = TYPES.get(name, kind)
        text = HELP.get(name, name)
        if kind in (dict, list):
            kind, default = json.loads, json.dumps(default)
        if kind is bool:
            where.add_argument(flag, dest=f"p_{name}", action="store_true", default=bool(default), help=text)
        else:
            where.add_argument(flag, dest=f"p_{name}", metavar=name.upper(), type=kind, default=default,
                               required=default is None,
                               help=f"{text} (default {default})" if default is not None else text)


def from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The pipeline arguments given on the command line, checked before anything is launched."""
    from slimpipe.pruning.sensitivity import parse_ratios
    from slimpipe.stages.targets import plan_targets

    params = {key[2:]: value for key, value in vars(args).items() if key.startswith("p_")}
    plan_targets(params["eval_metric_loss"], params["pruned_flops"], params["target_speedup"],
                 params["target_latency_ms"], params["sweep_losses"], params["sweep_speedups"])
    parse_ratios(params["ratios"])
    return params
