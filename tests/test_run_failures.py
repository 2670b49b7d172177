"""A failed pipeline run ends on its cause: the failed step and its one-line message, exit 2, no retries of
a deterministic error, no traceback."""
import json
import os
import subprocess
import sys
import time

from slimpipe.errors import SlimpipeError
from slimpipe.kfp_io import FAILURE_LOG


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
    from slimpipe.kfp_pipeline import pipeline_func, without_retries

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
