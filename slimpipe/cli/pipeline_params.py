"""Pipeline parameters as command-line flags, derived from the pipeline's own signature (one source of
defaults): `eval_metric_loss` becomes `--eval-metric-loss`, booleans become switches."""
from __future__ import annotations

import argparse
import inspect
import json
from typing import Any

from slimpipe.cli import options
from slimpipe.cli.docs import args_section
from slimpipe.pruning.latency_target import PLANS


def _function():
    from slimpipe.pipelines.build import pipeline_func

    return pipeline_func().pipeline_func


EXCLUSIVE = ("eval_metric_loss", "pruned_flops", "target_speedup", "target_latency_ms")
# Parameters whose values have bounds, refused at parse time like the stages' own flags (0 and -1 are the
# pipeline's "off" and "default" where its help says so).
TYPES = {"epochs": options.COUNT, "prune_epochs": options.COUNT, "batch_size": options.COUNT,
         "benchmark_threads": options.COUNT, "benchmark_repeats": options.COUNT,
         "benchmark_warmup": options.NON_NEGATIVE, "sensitivity_shards": options.COUNT,
         "sensitivity_subset": options.NON_NEGATIVE, "sensitivity_workers": options.COUNT, "input_size": options.NON_NEGATIVE,
         "align": options.bounded(int, -1), "sensitivity_stop_loss": options.bounded(float, 0.0),
         "eval_metric_loss": options.FINITE, "pruned_flops": options.FINITE, "max_drop_points": options.FINITE,
         "target_speedup": options.FINITE, "target_latency_ms": options.FINITE,
         "max_layer_loss": options.bounded(float, 0.0), "latency_plan": options.one_of(PLANS, unset="")}


def add_arguments(cmd: argparse.ArgumentParser) -> None:
    group = cmd.add_argument_group("pipeline parameters")
    target = group.add_mutually_exclusive_group()
    function = _function()
    helps = args_section(function.__doc__)  # the pipeline's docstring: each parameter's help, written once
    for name, param in inspect.signature(function).parameters.items():
        flag = "--" + name.replace("_", "-")
        where = target if name in EXCLUSIVE else group
        default = None if param.default is inspect.Parameter.empty else param.default
        kind = param.annotation if param.annotation is not inspect.Parameter.empty else str
        kind = TYPES.get(name, kind)
        text = helps.get(name, name).rstrip(".")
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
                 params["target_latency_ms"], params["sweep_losses"], params["sweep_speedups"],
                 params["max_layer_loss"], params["latency_plan"])
    parse_ratios(params["ratios"])
    return params
