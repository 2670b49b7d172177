"""The pipeline's pruning target, checked once for `slimpipe run/submit/schedule` and the pipeline's first step."""
from __future__ import annotations

from slimpipe.errors import fail
from slimpipe.pruning.rules import pipeline_target
from slimpipe.stages.sweep import parse_losses, parse_speedups


def plan_targets(eval_metric_loss: float, pruned_flops: float = 0.0, target_speedup: float = 0.0,
                 target_latency_ms: float = 0.0, sweep_losses: str = "", sweep_speedups: str = "") -> bool:
    """Refuse a target or sweep the stages would refuse later (0 and "" = unset, as in the pipeline); returns
    whether the run needs a latency table (a latency target, or a sweep of speed-up targets)."""
    if sweep_losses and sweep_speedups:
        raise fail("give sweep_losses or sweep_speedups, not both")
    if sweep_losses:
        parse_losses(sweep_losses)
        return False
    if sweep_speedups:
        parse_speedups(sweep_speedups)
        return True
    target = pipeline_target(eval_metric_loss, pruned_flops, target_speedup, target_latency_ms)
    return bool(target["target_speedup"] or target["target_latency_ms"])
