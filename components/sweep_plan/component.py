"""Sweep plan: the eval_metric_loss values or speed-up targets a ParallelFor prunes and benchmarks the model at."""
from typing import List

from kfp import dsl

from slimpipe.components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def sweep_plan(values: str, speedups: bool = False) -> List[float]:
    """The values a sweep prunes at, checked and sorted: `0.02,0.05,0.1` -> [0.02, 0.05, 0.1].

    Args:
        values: comma-separated eval_metric_loss values, each in (0, 1), or speed-up targets, each above 1.
        speedups: the values are speed-up targets (a latency-target sweep), not eval_metric_loss values.
    """
    from slimpipe.kfp_io import report_failures

    report_failures("sweep_plan")

    from slimpipe.stages.sweep import parse_losses, parse_speedups

    return parse_speedups(values) if speedups else parse_losses(values)
