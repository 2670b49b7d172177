"""The reference's visualization data: for each eval_metric_loss threshold, how much of the model goes."""
from __future__ import annotations

from typing import Any

from slimpipe.pruning.channels import ChannelPruner, model_stats
from slimpipe.pruning.rules import Sensitivities, ratios_by_loss

THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))


def pruning_curve(pruner: ChannelPruner, table: Sensitivities, input_shape: list[int],
                  thresholds: tuple[float, ...] = THRESHOLDS) -> list[dict[str, Any]]:
    """One point per threshold: pruned fraction of parameters (the reference's x axis) and of FLOPs."""
    base = model_stats(pruner.model, input_shape)
    points = []
    for threshold in thresholds:
        ratios = ratios_by_loss(table, threshold)
        with pruner.pruned(ratios):
            stats = model_stats(pruner.model, input_shape)
        points.append({
            "eval_metric_loss": threshold,
            "pruned_params": 1.0 - stats["params"] / base["params"],
            "pruned_flops": 1.0 - stats["flops"] / base["flops"],
            "layers_pruned": len(ratios),
        })
    return points


def describe(points: list[dict[str, Any]], at: tuple[float, ...] = (0.05, 0.10)) -> list[str]:
    """The source documents' sentences, e.g. 'When eval_metric_loss is set to 0.05, the model is pruned
    by 64.1% (35.9% of the model remains)'."""
    lines = []
    for p in points:
        if any(abs(p["eval_metric_loss"] - a) < 1e-9 for a in at):
            share = 100 * p["pruned_params"]
            lines.append(f"When eval_metric_loss is set to {p['eval_metric_loss']:.2f}, the model is pruned by "
                         f"{share:.1f}% ({100 - share:.1f}% of the model remains; "
                         f"{100 * p['pruned_flops']:.1f}% of FLOPs removed)")
    return lines
