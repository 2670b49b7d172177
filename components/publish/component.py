"""Publish: upload the results and a KServe manifest to an object store (or folder), and move latest.json
if the gate passes and no newer run is there."""
from kfp import dsl
from kfp.dsl import Artifact, Input, Markdown, Metrics, Model, Output

from slimpipe.components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def publish(publish_to: str, run_name: str, job_id: str, pruned_model: Input[Model], sensitivities: Input[Artifact],
            plots: Input[Artifact], base_result: Input[Artifact], pruned_result: Input[Artifact],
            report: Input[Markdown], outcome: Output[Metrics], max_drop_points: float = 1.0, created: str = "",
            service_account: str = ""):
    """Writes `<publish_to>/<run id>/...` (the pruned model, whose `model/inference/` folder KServe's paddle
    runtime serves, `inferenceservice.yaml`, the results and `publish.json`), then `<publish_to>/latest.json`
    only when every object is up, the metric dropped at most `max_drop_points` points and no run created
    later is there. Refuses a run id already published. Credentials come from the environment.

    Args:
        publish_to: destination, s3://bucket/name or a folder.
        pruned_model: the pruned model to publish.
        sensitivities: the sensitivity analysis.
        plots: the visualization folder.
        base_result: benchmark result of the model before pruning.
        pruned_result: benchmark result of the pruned model.
        report: the report.
        max_drop_points: quality gate: largest metric drop, in points, that may move latest.json.
        run_name: the run's name (dsl.PIPELINE_JOB_NAME_PLACEHOLDER), the readable start of the run id.
        job_id: the run's unique id (dsl.PIPELINE_JOB_ID_PLACEHOLDER); run id = `<run_name>-<job_id>`.
        created: the run's creation time, ISO-8601 UTC (dsl.PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER); empty
            or unfilled = now.
        service_account: the InferenceService's service account; empty = slimpipe-serving.
        outcome: published (1 when the gate passed), pointer_moved, metric_drop_points; the location.
    """
    from slimpipe.kfp_io import report_failures

    report_failures("publish")

    from pathlib import Path

    from slimpipe.stages.publish import SERVICE_ACCOUNT, run_files, run_id_for
    from slimpipe.stages.publish import publish as run

    files = run_files(pruned_model.path, base_result.path, pruned_result.path, sensitivities=sensitivities.path,
                      plots=plots.path, report=report.path)
    record = run(publish_to, run_id_for(run_name, job_id), files, Path(base_result.path), Path(pruned_result.path),
                 max_drop_points=max_drop_points, created=created, service_account=service_account or SERVICE_ACCOUNT)
    outcome.log_metric("published", 1.0 if record["published"] else 0.0)
    outcome.log_metric("pointer_moved", 1.0 if record["pointer_moved"] else 0.0)
    outcome.log_metric("metric_drop_points", float(record["gate"]["figures"]["metric_drop_points"]))
    outcome.metadata["location"] = record["location"]
    outcome.metadata["inferenceservice"] = record["serving"]["manifest"]
