"""Sweep select: compare the pruned models of a sweep and pass on the fastest that passes the gate."""
from typing import List

from kfp import dsl
from kfp.dsl import Artifact, HTML, Input, Markdown, Model, Output

from slimpipe.components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def sweep_select(base: Input[Artifact], results: Input[List[Artifact]], models: Input[List[Model]],
                 pruned_model: Output[Model], result: Output[Artifact], sweep: Output[Markdown],
                 chart: Output[HTML], max_drop_points: float = 1.0):
    """results[i] is the CPU benchmark of models[i] (both collected from the sweep's ParallelFor). Writes
    the table of metric, latency and size per eval_metric_loss, and a chart of metric against latency.

    Args:
        base: benchmark result of the unpruned model.
        results: benchmark result of each pruned model.
        models: the pruned models, in the same order.
        max_drop_points: quality gate: largest metric drop, in points, the chosen model may have.
    """
    from slimpipe.kfp_io import report_failures

    report_failures("sweep_select")

    import html
    import tempfile

    from slimpipe.kfp_io import fill_html
    from slimpipe.stages.sweep import sweep_select as run

    with tempfile.TemporaryDirectory() as tmp:
        outcome = run(base.path, [r.path for r in results], [m.path for m in models], pruned_model.path,
                      result.path, sweep.path, max_drop_points=max_drop_points, chart=f"{tmp}/sweep.png")
        fill_html(chart, f"{tmp}/sweep.png", "metric against latency", f"<pre>{html.escape(outcome['report'])}</pre>")
    pruned_model.metadata["eval_metric_loss"] = outcome["eval_metric_loss"]
