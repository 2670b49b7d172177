"""Record a failed run: the pipeline's exit task writes `<publish_to>/<run id>/failed.json`."""
from kfp import dsl
from kfp.dsl import PipelineTaskFinalStatus

from slimpipe.components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def record_failure(publish_to: str, run_name: str, job_id: str, status: PipelineTaskFinalStatus, created: str = ""):
    """The pipeline's exit task (dsl.ExitHandler): for a run that did not succeed, writes
    `<publish_to>/<run id>/failed.json` with the run's state, the step that failed and its cause, so that a
    scheduled run leaves a trail where its results would have been. Does nothing for a run that succeeded or
    without `publish_to`. Credentials come from the environment.

    Args:
        publish_to: destination, s3://bucket/name or a folder; empty = record nothing.
        run_name: the run's name (dsl.PIPELINE_JOB_NAME_PLACEHOLDER), as given to publish.
        job_id: the run's unique id (dsl.PIPELINE_JOB_ID_PLACEHOLDER); run id = `<run_name>-<job_id>`.
        status: the final status of the steps the exit handler wraps (filled in by Kubeflow).
        created: the run's creation time, ISO-8601 UTC (dsl.PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER).
    """
    from slimpipe.kfp_io import report_failures

    report_failures("record_failure")

    import os

    from slimpipe.kfp_io import FAILURE_LOG, failures
    from slimpipe.stages.publish import record_failure as run
    from slimpipe.stages.publish import run_id_for

    if not publish_to or status.state == "SUCCEEDED":
        return
    run(publish_to, run_id_for(run_name, job_id), state=status.state, failed_task=status.pipeline_task_name or "",
        error=status.error_message or "", causes=failures(os.environ.get(FAILURE_LOG, "")), created=created)
