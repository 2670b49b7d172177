"""Report: stage 6, the comparison table as Markdown, and as a chart in a small HTML page."""
from typing import Optional

from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Markdown, Metrics, Output

from components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def report(base: Input[Artifact], pruned: Input[Artifact], report: Output[Markdown], chart: Output[HTML],
           summary: Output[Metrics], gpu_base: Optional[Input[Artifact]] = None,
           gpu_pruned: Optional[Input[Artifact]] = None):
    """Model, parameter file size, prediction speed and metric, before and after pruning; GPU rows when the
    GPU benchmarks ran (figures, or "not measured" with the reason)."""
    from slimpipe.kfp_io import report_failures

    report_failures("report")

    import base64
    import tempfile

    from slimpipe.stages.report import comparison, read_benchmark
    from slimpipe.stages.report import report as run

    with tempfile.TemporaryDirectory() as tmp:
        run(base.path, pruned.path, report.path, gpu_base=gpu_base.path if gpu_base else None,
            gpu_pruned=gpu_pruned.path if gpu_pruned else None, chart=f"{tmp}/report.png")
        image = base64.b64encode(open(f"{tmp}/report.png", "rb").read()).decode()
    with open(chart.path, "w") as f:
        f.write(f"<!doctype html><img alt='before and after pruning' src='data:image/png;base64,{image}'>")
    for key, value in comparison(read_benchmark(base.path), read_benchmark(pruned.path)).items():
        if isinstance(value, (int, float)):
            summary.log_metric(key, float(value))
