"""Target plan: the run's pruning target, checked before any training, and whether it needs a latency table."""
from kfp import dsl

from slimpipe.components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def target_plan(eval_metric_loss: float, pruned_flops: float = 0.0, target_speedup: float = 0.0,
                target_latency_ms: float = 0.0, sweep_losses: str = "", sweep_speedups: str = "",
                max_layer_loss: float = 0.0, latency_plan: str = "") -> bool:
    """Checks the pruning target the pipeline was given (0 = unset; each of pruned_flops, target_speedup and
    target_latency_ms replaces eval_metric_loss, and at most one may be given) and the sweep values, so that a
    wrong target fails the run in seconds instead of after training. Returns whether a latency table must be
    measured: a latency target, or a sweep of speed-up targets.

    Args:
        eval_metric_loss: largest relative metric loss per layer, in (0, 1).
        pruned_flops: fraction of FLOPs to remove instead, in (0, 1); 0 = unset.
        target_speedup: prune until the model runs this many times faster (above 1); 0 = unset.
        target_latency_ms: prune until the model runs within this many milliseconds; 0 = unset.
        sweep_losses: comma-separated eval_metric_loss values to sweep; empty = no sweep.
        sweep_speedups: comma-separated speed-up targets to sweep; empty = no sweep.
        max_layer_loss: with a latency target: largest sensitivity loss any one layer may take, in (0, 1];
            0 = the default.
        latency_plan: with a latency target: knapsack or threshold; empty = knapsack.
    """
    from slimpipe.kfp_io import report_failures

    report_failures("target_plan")

    from slimpipe.stages.targets import plan_targets

    return plan_targets(eval_metric_loss, pruned_flops, target_speedup, target_latency_ms, sweep_losses,
                        sweep_speedups, max_layer_loss, latency_plan)
