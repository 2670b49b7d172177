"""Publish: upload the results to an object store (or folder) and move latest.json if the gate passes."""
from kfp import dsl
from kfp.dsl import Artifact, Input, Markdown, Metrics, Model, Output

from components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def publish(publish_to: str, run_id: str, pruned_model: Input[Model], sensitivities: Input[Artifact],
            plots: Input[Artifact], base_result: Input[Artifact], pruned_result: Input[Artifact],
            report: Input[Markdown], outcome: Output[Metrics], max_drop_points: float = 1.0):
    """Writes `<publish_to>/<run_id>/...`, then `<publish_to>/latest.json` only when every object is up
    and the metric dropped at most `max_drop_points` points. Credentials come from the environment."""
    from slimpipe.kfp_io import report_failures

    report_failures("publish")

    from pathlib import Path

    from slimpipe.stages.publish import publish as run
    from slimpipe.stages.publish import run_files

    files = run_files(pruned_model.path, base_result.path, pruned_result.path, sensitivities=sensitivities.path,
                      plots=plots.path, report=report.path)
    record = run(publish_to, run_id, files, Path(base_result.path), Path(pruned_result.path),
                 max_drop_points=max_drop_points)
    outcome.log_metric("published", 1.0 if record["published"] else 0.0)
    outcome.log_metric("metric_drop_points", float(record["gate"]["figures"]["metric_drop_points"]))
    outcome.metadata["location"] = record["location"]
