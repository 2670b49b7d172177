"""Every step in its container image: the whole classification pipeline at demo size through kfp.local's
DockerRunner (Docker, or podman's Docker API), publishing to the embedded S3 server on the host's loopback.

Run by `make test-containers` (which builds the images and starts the engine's API); `make test` leaves
these out (marker `containers`): they need an engine and the CPU image.
"""
import json
import os
import time

import pytest

from slimpipe import storage
from slimpipe.cli import main
from slimpipe.demo import DEMO_SETTINGS, upload_dataset

pytestmark = pytest.mark.containers


@pytest.fixture(scope="module")
def store():
    from slimpipe.local_s3 import embedded_s3

    with embedded_s3() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from slimpipe.tasks import get_task

    root = tmp_path_factory.mktemp("sample") / "digits"
    get_task("classification").write_sample(root)
    return root


def test_the_demo_pipeline_runs_with_every_step_in_its_image(store, sample, tmp_path, capsys):
    upload_dataset(sample, "s3://slimpipe-ct/datasets/digits")
    start = time.perf_counter()
    code = main(["run", "--runner", "container", "--dataset", "s3://slimpipe-ct/datasets/digits",
                 *DEMO_SETTINGS["classification"].flags(), "--publish-to", "s3://slimpipe-ct/models/digits",
                 "--root", str(tmp_path / "runs"), "--out", str(tmp_path / "results")])
    out, err = capsys.readouterr()
    assert code == 0, err[-3000:]
    print(f"container run: {time.perf_counter() - start:.0f} s")
    results = tmp_path / "results"
    assert "# Pruning report: MobileNetV2" in (results / "report.md").read_text()
    pruned = json.loads((results / "pruned" / "model.json").read_text())
    assert pruned["pruning"]["ratios"]
    sens = json.loads((results / "sensitivities.json").read_text())
    assert sens["complete"] and sens["sensitivities"]
    for name in ("benchmark_base_cpu.json", "benchmark_pruned_cpu.json"):
        assert json.loads((results / name).read_text())["measured"]
    s3 = storage.ObjectStore.from_env()
    keys = {key for key, _ in s3.list(storage.parse_uri("s3://slimpipe-ct/models/digits"))}
    run_keys = {k for k in keys if k.endswith("/report.md")}
    assert run_keys, sorted(keys)[:10]
    if "models/digits/latest.json" in keys:  # the gate may reject a demo run; then the pointer must not exist
        pointer = json.loads(s3.get_bytes("slimpipe-ct", "models/digits/latest.json"))
        assert pointer["gate"]["passed"]
    # every step ran as the image's user, not as root: the files it wrote are not root's
    run_dir = next((tmp_path / "runs").glob("slimpipe-prune-*"))
    assert (run_dir / "train" / "model" / "model.json").stat().st_uid != 0


def test_a_failing_step_fails_the_run_naming_it(store, tmp_path, capsys):
    start = time.perf_counter()
    code = main(["run", "--runner", "container", "--dataset", "s3://slimpipe-ct/no/such/prefix",
                 "--root", str(tmp_path / "runs"), "--out", str(tmp_path / "results")])
    err = capsys.readouterr().err
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert "step ingest failed" in last and "no objects under this prefix" in last, last
    assert "Traceback" not in last
    assert not (tmp_path / "results").exists()
    assert time.perf_counter() - start < 120


def test_credentials_are_not_in_the_steps_logs(store, sample, tmp_path, capsys):
    secret = os.environ["MINIO_SECRET_KEY"]
    code = main(["run", "--runner", "container", "--dataset", "s3://slimpipe-ct/no/such/prefix",
                 "--root", str(tmp_path / "runs"), "--out", str(tmp_path / "results")])
    out, err = capsys.readouterr()
    assert code == 2
    assert secret not in out + err
