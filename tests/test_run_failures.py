"""A failed pipeline run ends on its cause: the failed step and its one-line message, exit 2, no retries of
a deterministic error, no traceback."""
import json
import os
import subprocess
import sys
import time

import pytest

from slimpipe.errors import SlimpipeError
from slimpipe.kfp_io import FAILURE_LOG
from tests.s3_fixtures import s3  # noqa: F401  (fixture)


def test_a_run_whose_val_list_names_a_missing_file_ends_on_the_step_and_the_line(dataset_copy, tmp_path):
    lines = (dataset_copy / "val_list.txt").read_text().splitlines()
    lines[2] = "images/missing.jpg " + lines[2].split()[1]
    (dataset_copy / "val_list.txt").write_text("\n".join(lines) + "\n")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "slimpipe", "run", "--dataset", str(dataset_copy), "--epochs", "1",
                           "--root", str(tmp_path / "runs"), "--out", str(tmp_path / "results")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    took = time.monotonic() - start
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert took < 40, f"took {took:.0f}s: the failure was retried?"
    last = proc.stdout.rstrip().splitlines()[-1]
    assert last == (f"slimpipe run: error: step ingest failed: {dataset_copy}/val_list.txt:3: file not found: "
                    f"images/missing.jpg")
    assert "Traceback" not in proc.stdout and "\x1b[" not in last
    assert not (tmp_path / "results").exists()


def test_a_local_run_has_no_retry_policy_and_the_cluster_spec_keeps_the_resumable_one():
    from slimpipe.kfp_pipeline import without_retries
    from slimpipe.pipelines.build import pipeline_func

    spec = pipeline_func().component_spec.implementation.graph

    def retried(s):
        dags = [s.root.dag] + [c.dag for c in s.components.values() if c.HasField("dag")]
        return sorted(name for dag in dags for name, task in dag.tasks.items() if task.HasField("retry_policy"))

    assert retried(spec) == ["sensitivity"]
    assert retried(without_retries(spec)) == [] and retried(spec) == ["sensitivity"]  # the original untouched


def test_the_runner_failure_becomes_the_steps_cause():
    from slimpipe.kfp_pipeline import failed_run

    raised = RuntimeError("Pipeline \x1b[95m'slimpipe-prune'\x1b[0m finished with status \x1b[91mFAILURE\x1b[0m. "
                          "Inner task failed: \x1b[96m'benchmark-2'\x1b[0m inside \x1b[96m'condition-1'\x1b[0m.")
    causes = [{"step": "train", "message": "earlier"}, {"step": "benchmark", "message": "m.pdmodel: not a model"}]
    error = failed_run(raised, causes)
    assert isinstance(error, SlimpipeError) and str(error) == "step benchmark-2 failed: m.pdmodel: not a model"
    assert "no cause recorded" in str(failed_run(raised, []))
    other = RuntimeError("something else")
    assert failed_run(other, causes) is other


def run_step(tmp_path, body):
    log = tmp_path / "failures.jsonl"
    code = f"from slimpipe.kfp_io import report_failures\nreport_failures('ingest')\n{body}"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, FAILURE_LOG: str(log)})
    return proc, [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_a_step_failing_on_bad_input_prints_one_line_and_records_it(tmp_path):
    proc, records = run_step(tmp_path, "from slimpipe.errors import fail\nraise fail('list.txt:3: file not found')")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "[ingest] error: list.txt:3: file not found"
    assert records == [{"step": "ingest", "message": "list.txt:3: file not found"}]


def test_a_step_failing_on_a_bug_keeps_its_traceback_and_records_it(tmp_path):
    proc, records = run_step(tmp_path, "raise ValueError('a bug')")
    assert proc.returncode != 0 and "Traceback" in proc.stderr
    assert records == [{"step": "ingest", "message": "ValueError: a bug"}]


# A failed run leaves failed.json under the publish destination (the pipeline's exit handler) --------------------

def test_a_failed_run_leaves_failed_json_naming_the_step_and_the_cause(dataset_copy, tmp_path):
    from slimpipe.kfp_pipeline import run_local
    from slimpipe.pipelines.build import pipeline_func

    lines = (dataset_copy / "val_list.txt").read_text().splitlines()
    lines[2] = "images/missing.jpg " + lines[2].split()[1]
    (dataset_copy / "val_list.txt").write_text("\n".join(lines) + "\n")
    dest = tmp_path / "published"
    with pytest.raises(SlimpipeError, match="step ingest failed"):
        run_local(pipeline_func(), {"dataset": str(dataset_copy), "epochs": 1, "publish_to": str(dest)},
                  tmp_path / "runs")
    [failed] = dest.glob("*/failed.json")
    record = json.loads(failed.read_text())
    assert failed.parent.name == record["run_id"] and record["run_id"].startswith("slimpipe-prune-")
    assert record["state"] == "FAILED" and record["step"] == "ingest"
    assert record["cause"] == f"{dataset_copy}/val_list.txt:3: file not found: images/missing.jpg"
    assert record["format"] == "slimpipe.failure/1" and not (dest / "latest.json").exists()


def test_the_exit_task_wraps_every_step_and_names_the_run_as_publish_does():
    from kfp.pipeline_spec.pipeline_spec_pb2 import PipelineTaskSpec

    after_all = PipelineTaskSpec.TriggerPolicy.TriggerStrategy.ALL_UPSTREAM_TASKS_COMPLETED

    from slimpipe.pipelines.build import pipeline_func

    spec = pipeline_func().component_spec.implementation.graph
    root = spec.root.dag.tasks
    assert sorted(root) == ["exit-handler-1", "record-failure"]
    exit_task = root["record-failure"]
    assert exit_task.dependent_tasks == ["exit-handler-1"]
    assert exit_task.trigger_policy.strategy == after_all
    assert exit_task.inputs.parameters["status"].task_final_status.producer_task == "exit-handler-1"
    publish = [task for comp in spec.components.values() for name, task in comp.dag.tasks.items() if name == "publish"]
    assert publish

    def identity(task):
        return {k: task.inputs.parameters[k].runtime_value.constant.string_value
                for k in ("run_name", "job_id", "created")}

    assert all(identity(task) == identity(exit_task) for task in publish)
    assert identity(exit_task) == {"run_name": "{{$.pipeline_job_name}}", "job_id": "{{$.pipeline_job_uuid}}",
                                   "created": "{{$.pipeline_job_create_time_utc}}"}


def test_a_local_run_gets_its_creation_time_in_place_of_the_placeholder_kfp_local_cannot_fill():
    from slimpipe.kfp_pipeline import with_create_time
    from slimpipe.pipelines.build import pipeline_func

    spec = pipeline_func().component_spec.implementation.graph
    filled = with_create_time(spec, "2026-06-01T12:00:00Z")
    dags = [filled.root.dag] + [c.dag for c in filled.components.values() if c.HasField("dag")]
    values = [p.runtime_value.constant.string_value for dag in dags for task in dag.tasks.values()
              for name, p in task.inputs.parameters.items() if name == "created"]
    assert len(values) >= 3 and set(values) == {"2026-06-01T12:00:00Z"}
    assert "{{$.pipeline_job_create_time_utc}}" in str(spec)  # the original untouched


def test_failed_json_is_written_once_and_kept(tmp_path):
    from slimpipe.stages.publish import record_failure

    causes = [{"step": "train", "message": "NaN training loss"}, {"step": "report", "message": "later"}]
    first = record_failure(str(tmp_path), "run-1", "FAILED", causes=causes, created="2026-06-01T12:00:00Z")
    assert (first.step, first.cause, first.created) == ("train", "NaN training loss", "2026-06-01T12:00:00.000000Z")
    written = (tmp_path / "run-1/failed.json").read_bytes()
    record_failure(str(tmp_path), "run-1", "FAILED", causes=[{"step": "ingest", "message": "other"}])
    assert (tmp_path / "run-1/failed.json").read_bytes() == written
    assert sorted(p.name for p in (tmp_path / "run-1").iterdir()) == ["failed.json"]  # nothing left aside


def test_a_succeeded_run_records_nothing(tmp_path):
    from slimpipe.stages.publish import record_failure

    assert record_failure(str(tmp_path / "pub"), "run-1", "SUCCEEDED") is None
    assert not (tmp_path / "pub").exists()


def test_without_recorded_causes_failed_json_says_what_kubeflow_says(tmp_path):
    from slimpipe.stages.publish import record_failure

    record = record_failure(str(tmp_path), "run-1", "CANCELLED", failed_task="exit-handler-1",
                            error="run was cancelled")
    data = json.loads((tmp_path / "run-1/failed.json").read_text())
    assert data["step"] == record.step == "exit-handler-1" and data["cause"] == "run was cancelled"
    assert data["state"] == "CANCELLED"


def test_failed_json_in_a_bucket(s3):
    from slimpipe import storage
    from slimpipe.stages.publish import record_failure

    store = storage.ObjectStore.from_env()
    store.ensure_bucket("models")
    record_failure("s3://models/digits", "run-1", "FAILED", causes=[{"step": "ingest", "message": "bad"}])
    record_failure("s3://models/digits", "run-1", "FAILED", causes=[{"step": "train", "message": "other"}])
    data = json.loads(store.get_bytes("models", "digits/run-1/failed.json"))
    assert (data["step"], data["cause"]) == ("ingest", "bad")
