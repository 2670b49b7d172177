"""The pipeline's pruning target, checked once for `slimpipe run/submit/schedule` and the pipeline's first step."""
from __future__ import annotations

from slimpipe.errors import fail
from slimpipe.pruning.rules import check_layer_loss, pipeline_target
from slimpipe.stages.sweep import parse_losses, parse_speedups


def plan_targets(eval_metric_loss: float, pruned_flops: float = 0.0, target_speedup: float = 0.0,
                 target_latency_ms: float = 0.0, sweep_losses: str = "", sweep_speedups: str = "",
                 max_layer_loss: float = 0.0, latency_plan: str = "") -> bool:
    """Refuse a target or sweep the stages would refuse later (0 and "" = unset, as in the pipeline), and a
    latency target's options (`max_layer_loss`, `latency_plan`) given without one; returns whether the run
    needs a latency table (a latency target, or a sweep of speed-up targets)."""
    from slimpipe.pruning.latency_target import check_plan

    if sweep_losses and sweep_speedups:
        raise fail("give sweep_losses or sweep_speedups, not both")
    if sweep_losses:
        parse_losses(sweep_losses)
        latency = False
    elif sweep_speedups:
        parse_speedups(sweep_speedups)
        latency = True
    else:
        target = pipeline_target(eval_metric_loss, pruned_flops, target_speedup, target_latency_ms)
        latency = bool(target["target_speedup"] or target["target_latency_ms"])
    for name, value in (("max_layer_loss", max_layer_loss), ("latency_plan", latency_plan)):
        if value and not latency:
            raise fail(f"{name} {value!r} applies only to a latency target (target_speedup, target_latency_ms or "
                       "sweep_speedups)")
    if max_layer_loss:
        check_layer_loss(max_layer_loss)
    if latency_plan:
        check_plan(latency_plan)
    return latency
