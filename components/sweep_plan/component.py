"""Sweep plan: the eval_metric_loss values a ParallelFor prunes and benchmarks the model at."""
from typing import List

from kfp import dsl

from components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def sweep_plan(values: str) -> List[float]:
    """`0.02,0.05,0.1` -> [0.02, 0.05, 0.1]; each value in (0, 1)."""
    from slimpipe.kfp_io import report_failures

    report_failures("sweep_plan")

    from slimpipe.stages.sweep import parse_losses

    return parse_losses(values)
