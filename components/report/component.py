"""Report: stage 6, the comparison table as Markdown, and as a chart in a small HTML page."""
from typing import Optional

from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Markdown, Metrics, Output

from slimpipe.components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def report(base: Input[Artifact], pruned: Input[Artifact], report: Output[Markdown], chart: Output[HTML],
           summary: Output[Metrics], gpu_base: Optional[Input[Artifact]] = None,
           gpu_pruned: Optional[Input[Artifact]] = None):
    """Model, parameter file size, prediction speed and metric, before and after pruning; GPU rows when the
    GPU benchmarks ran (figures, or "not measured" with the reason).

    Args:
        base: benchmark result of the unpruned model.
        pruned: benchmark result of the pruned model.
        gpu_base: GPU benchmark result of the unpruned model, optional.
        gpu_pruned: GPU benchmark result of the pruned model, optional.
    """
    from slimpipe.kfp_io import report_failures

    report_failures("report")

    import tempfile

    from slimpipe.kfp_io import fill_html, log_figures, path_of
    from slimpipe.stages.report import report as run

    with tempfile.TemporaryDirectory() as tmp:
        outcome = run(base.path, pruned.path, report.path, gpu_base=path_of(gpu_base),
                      gpu_pruned=path_of(gpu_pruned), chart=f"{tmp}/report.png")
        fill_html(chart, outcome.chart, "before and after pruning")
    log_figures(summary, outcome.comparison.figures())
