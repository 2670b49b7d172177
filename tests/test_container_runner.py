"""The container runner's own logic, without a container engine (tests/test_containers.py runs real ones)."""
import json

import pytest

from slimpipe import containers
from slimpipe.errors import SlimpipeError


def command_for(tmp_path, artifacts: dict[str, str]) -> list[str]:
    """A step's command line as kfp.local builds it, with the executor input naming its outputs."""
    spec = {"outputs": {"outputFile": str(tmp_path / "step" / "executor_output.json"),
                        "artifacts": {name: {"artifacts": [{"uri": str(tmp_path / "step" / name),
                                                            "type": {"schemaTitle": kind}}]}
                                      for name, kind in artifacts.items()}}}
    return ["sh", "-c", "...", "--executor_input", json.dumps(spec), "--function_to_execute", "train"]


def test_a_step_that_wrote_nothing_misses_its_executor_output_and_artifacts(tmp_path):
    command = command_for(tmp_path, {"model": "system.Model"})
    assert containers.missing_outputs(command) == ["executor output", "model"]


def test_metrics_have_no_file_of_their_own(tmp_path):
    command = command_for(tmp_path, {"metrics": "system.Metrics"})
    (tmp_path / "step").mkdir()
    (tmp_path / "step" / "executor_output.json").write_text("{}")
    assert containers.missing_outputs(command) == []


def test_the_step_is_named_by_its_folder(tmp_path):
    assert containers.step_name(command_for(tmp_path, {})) == "step"


class FakeContainer:
    def __init__(self, code: int):
        self.code, self.removed = code, False

    def logs(self, stream, follow):
        return iter([b"[train] working\n"])

    def wait(self):
        return {"StatusCode": self.code}

    def remove(self, force):
        self.removed = True


class FakeClient:
    def __init__(self, code: int):
        self.container = FakeContainer(code)
        self.containers = self

    def run(self, **kwargs):
        assert kwargs["detach"] and "auto_remove" not in kwargs
        return self.container


def test_a_container_that_exits_0_without_outputs_fails_the_step(tmp_path, capsys):
    log = tmp_path / "failures.jsonl"
    fake = FakeClient(0)
    code = containers.run_container(fake, "img:1", command_for(tmp_path, {"model": "system.Model"}), {},
                                    environment={"SLIMPIPE_FAILURE_LOG": str(log)})
    assert code == 1
    assert "wrote no executor output, model" in json.loads(log.read_text())["message"]
    assert fake.container.removed


def test_the_real_exit_status_is_returned(tmp_path):
    fake = FakeClient(3)
    assert containers.run_container(fake, "img:1", command_for(tmp_path, {}), {}) == 3
    assert fake.container.removed


def test_the_gpu_step_is_refused(tmp_path):
    with pytest.raises(SlimpipeError, match="--gpu-benchmark"):
        containers.step_image({"gpu_benchmark": True})


def test_a_local_publish_folder_is_refused(tmp_path):
    with pytest.raises(SlimpipeError, match="--publish-to .* must be an object-store URI"):
        containers.step_image({"publish_to": str(tmp_path / "published")})


def test_credentials_pass_as_the_runners_environment_only(monkeypatch):
    monkeypatch.setenv("MINIO_SECRET_KEY", "s3cret")
    monkeypatch.setenv("UNRELATED", "x")
    env = containers.environment("/runs/.log")
    assert env["MINIO_SECRET_KEY"] == "s3cret" and "UNRELATED" not in env


def test_a_local_dataset_is_staged_under_the_root_for_the_run_only(tmp_path, tiny_dataset):
    root = tmp_path / "runs"
    root.mkdir()
    with containers.staged_dataset(str(tiny_dataset), root) as staged:
        assert (root / "inputs") in containers.Path(staged).parents
        assert (containers.Path(staged) / "labels.txt").is_file()
    assert list(root.iterdir()) == []
