"""Object storage against an S3-protocol server on 127.0.0.1: ingest, publish, checkpoints and faults."""
import json
import os
import shutil
import socket

import pytest

from slimpipe import storage
from slimpipe.errors import SlimpipeError
from slimpipe.stages.ingest import ingest
from slimpipe.stages.publish import publish
from tests.s3_fixtures import authenticating_s3, free_port, restartable_s3, s3  # noqa: F401  (fixtures)

BUCKET = "data"


def upload(local, uri):
    store = storage.ObjectStore.from_env()
    loc = storage.parse_uri(uri)
    store.ensure_bucket(loc.bucket)
    return storage.upload_tree(store, local, loc)


def test_uri_forms():
    assert storage.parse_uri("s3://bkt/a/b/") == storage.Location("bkt", "a/b")
    assert storage.parse_uri("minio://mlpipeline/v2/artifacts").key("x") == "v2/artifacts/x"
    assert not storage.is_remote("/tmp/data") and storage.is_remote("minio://b/p")
    with pytest.raises(SlimpipeError, match="no bucket name"):
        storage.parse_uri("s3:///x")
    with pytest.raises(SlimpipeError, match="'My_Bucket' is not a valid bucket name"):
        storage.parse_uri("s3://My_Bucket/x")


def test_credentials_come_from_the_environment_with_aws_names_accepted():
    cfg = storage.StoreConfig.from_env({"MINIO_ENDPOINT": "https://minio:9000", "AWS_ACCESS_KEY_ID": "AK",
                                        "AWS_SECRET_ACCESS_KEY": "very-secret", "MINIO_SECURE": "true"})
    assert cfg.endpoint == "minio:9000" and cfg.secure and cfg.access_key == "AK"
    assert "very-secret" not in repr(cfg) and "AK" not in repr(cfg)


def test_missing_endpoint_is_a_clear_error():
    with pytest.raises(SlimpipeError, match="set MINIO_ENDPOINT"):
        storage.StoreConfig.from_env({})


def test_ingest_downloads_a_dataset_identical_to_the_local_one(s3, tiny_dataset, tmp_path):
    upload(tiny_dataset, f"s3://{BUCKET}/digits")
    remote = ingest(f"s3://{BUCKET}/digits", tmp_path / "remote")
    local = ingest(str(tiny_dataset), tmp_path / "local")
    assert remote["data_version"] == local["data_version"] and remote["files"] == local["files"]
    assert (tmp_path / "remote/labels.txt").read_text() == (tiny_dataset / "labels.txt").read_text()


def test_ingest_of_a_missing_bucket(s3, tmp_path):
    with pytest.raises(SlimpipeError, match=rf"bucket 'nope' does not exist at {s3}"):
        ingest("s3://nope/digits", tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_ingest_of_a_missing_prefix(s3, tiny_dataset, tmp_path):
    upload(tiny_dataset, f"s3://{BUCKET}/digits")
    with pytest.raises(SlimpipeError, match="no objects under this prefix"):
        ingest(f"s3://{BUCKET}/elsewhere", tmp_path / "d")


def test_ingest_of_a_list_naming_a_missing_object(s3, dataset_copy, tmp_path):
    first = (dataset_copy / "train_list.txt").read_text().splitlines()[0].split()[0]
    (dataset_copy / first).unlink()
    upload(dataset_copy, f"s3://{BUCKET}/broken")
    with pytest.raises(SlimpipeError, match=rf"s3://{BUCKET}/broken/train_list.txt:1: file not found: {first}"):
        ingest(f"s3://{BUCKET}/broken", tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_unreachable_endpoint_fails_after_bounded_retries(monkeypatch, tmp_path):
    port = free_port()  # nothing listens there
    monkeypatch.setenv("MINIO_ENDPOINT", f"127.0.0.1:{port}")
    monkeypatch.setenv("MINIO_ACCESS_KEY", "a")
    monkeypatch.setenv("MINIO_SECRET_KEY", "b")
    monkeypatch.setenv("SLIMPIPE_S3_ATTEMPTS", "3")
    monkeypatch.setenv("SLIMPIPE_S3_BACKOFF_S", "0.01")
    with pytest.raises(SlimpipeError, match=rf"cannot reach the object store at 127.0.0.1:{port} after 3 attempts"):
        ingest(f"s3://{BUCKET}/digits", tmp_path / "d")


def test_wrong_credentials_are_a_clear_error_without_the_secret(authenticating_s3, monkeypatch, tmp_path):
    monkeypatch.setenv("MINIO_ENDPOINT", authenticating_s3["endpoint"])
    monkeypatch.setenv("MINIO_ACCESS_KEY", authenticating_s3["access_key"])
    monkeypatch.setenv("MINIO_SECRET_KEY", "wrong-secret-value")
    with pytest.raises(SlimpipeError) as exc:
        ingest(f"s3://{BUCKET}/digits", tmp_path / "d")
    assert "rejected the credentials (SignatureDoesNotMatch)" in str(exc.value)
    assert "wrong-secret-value" not in str(exc.value)


def test_the_right_credentials_work_on_the_authenticating_server(authenticating_s3, monkeypatch):
    monkeypatch.setenv("MINIO_ENDPOINT", authenticating_s3["endpoint"])
    monkeypatch.setenv("MINIO_ACCESS_KEY", authenticating_s3["access_key"])
    monkeypatch.setenv("MINIO_SECRET_KEY", authenticating_s3["secret_key"])
    store = storage.ObjectStore.from_env()
    store.ensure_bucket("fine")
    store.put_bytes("fine", "x", b"1")
    assert store.get_bytes("fine", "x") == b"1"


def test_transient_server_errors_are_retried_with_backoff(s3, monkeypatch):
    from tests.s3_fixtures import FlakyProxy

    proxy = FlakyProxy(s3, failures=2)
    try:
        monkeypatch.setenv("MINIO_ENDPOINT", proxy.endpoint)
        monkeypatch.setenv("SLIMPIPE_S3_ATTEMPTS", "3")
        store = storage.ObjectStore.from_env()
        store.ensure_bucket("flaky")  # the first two requests get 503 SlowDown
        store.put_bytes("flaky", "k", b"payload")
        assert store.get_bytes("flaky", "k") == b"payload"
        assert proxy.seen >= 5
    finally:
        proxy.close()


def test_transient_errors_beyond_the_bound_fail_clearly(s3, monkeypatch):
    from tests.s3_fixtures import FlakyProxy

    proxy = FlakyProxy(s3, failures=100)
    try:
        monkeypatch.setenv("MINIO_ENDPOINT", proxy.endpoint)
        monkeypatch.setenv("SLIMPIPE_S3_ATTEMPTS", "3")
        with pytest.raises(SlimpipeError, match=rf"object store at {proxy.endpoint} answered SlowDown"):
            storage.ObjectStore.from_env().ensure_bucket("flaky")
        assert proxy.seen == 3
    finally:
        proxy.close()


def test_transient_errors_are_retried_with_backoff(monkeypatch):
    from minio.error import S3Error

    cfg = storage.StoreConfig(endpoint="127.0.0.1:1", access_key="a", secret_key="b", attempts=3, backoff_s=0.01)
    store = storage.ObjectStore(cfg)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise S3Error(None, "ServiceUnavailable", "try later", "r", "id", "host")
        return "ok"

    assert store.call("get x", flaky) == "ok" and len(calls) == 3


def test_a_permanent_error_is_not_retried():
    from minio.error import S3Error

    store = storage.ObjectStore(storage.StoreConfig(endpoint="h:1", access_key="a", secret_key="b", attempts=3))
    calls = []

    def denied():
        calls.append(1)
        raise S3Error(None, "AccessDenied", "no", "r", "id", "host")

    with pytest.raises(SlimpipeError, match="rejected the credentials"):
        store.call("get x", denied)
    assert len(calls) == 1


@pytest.fixture(scope="module")
def results(tmp_path_factory, tiny_model):
    """A model and small files standing in for a run's other outputs, with benchmark results the gate can read."""
    root = tmp_path_factory.mktemp("results")
    shutil.copytree(tiny_model, root / "model")
    (root / "sensitivities.json").write_text("{}")
    (root / "report.md").write_text("# report\n")
    for name, acc, latency in (("base", 0.90, 10.0), ("pruned", 0.895, 5.0)):
        (root / f"{name}.json").write_text(json.dumps({
            "task": "classification", "metric": "accuracy", "metric_value": acc, "params": 100, "flops": 100,
            "latency_ms": {"mean": latency}, "param_file_bytes": 1000, "arch": "mobilenetv2"}))
    return root


def run_publish(results, dest, run_id, max_drop=1.0):
    files = {"model": results / "model", "sensitivities.json": results / "sensitivities.json",
             "report.md": results / "report.md"}
    return publish(dest, run_id, files, results / "base.json", results / "pruned.json", max_drop)


def read_pointer(dest):
    loc = storage.parse_uri(dest)
    return json.loads(storage.ObjectStore.from_env().get_bytes(loc.bucket, loc.key("latest.json")))


def test_publish_uploads_everything_then_moves_the_pointer(s3, results):
    storage.ObjectStore.from_env().ensure_bucket("models")
    record = run_publish(results, "s3://models/digits", "run-1")
    assert record["published"]
    pointer = read_pointer("s3://models/digits")
    assert pointer["run_id"] == "run-1" and pointer["gate"]["passed"]
    assert pointer["gate"]["figures"]["speedup"] == pytest.approx(2.0)
    store = storage.ObjectStore.from_env()
    assert all(store.exists("models", key) for key in pointer["objects"])
    assert "digits/run-1/model/model.json" in pointer["objects"]


def test_a_rejected_run_never_moves_the_pointer(s3, results):
    storage.ObjectStore.from_env().ensure_bucket("models")
    run_publish(results, "s3://models/digits", "run-1")
    record = run_publish(results, "s3://models/digits", "run-2", max_drop=0.1)  # 0.5 points dropped
    assert not record["published"]
    assert read_pointer("s3://models/digits")["run_id"] == "run-1"


def test_publish_to_a_missing_bucket_fails_clearly(s3, results):
    with pytest.raises(SlimpipeError, match="bucket 'absent' does not exist"):
        run_publish(results, "s3://absent/digits", "run-1")


def test_an_interrupted_publish_leaves_the_pointer_untouched(restartable_s3, results, monkeypatch):
    s3 = restartable_s3
    storage.ObjectStore.from_env().ensure_bucket("models")
    run_publish(results, "s3://models/digits", "run-1")
    real_put = storage.ObjectStore.put_file

    def put_then_stop_server(self, bucket, key, path):
        real_put(self, bucket, key, path)
        s3.stop()  # the server goes away in the middle of the publish

    monkeypatch.setattr(storage.ObjectStore, "put_file", put_then_stop_server)
    with pytest.raises(SlimpipeError, match="cannot reach the object store"):
        run_publish(results, "s3://models/digits", "run-2")
    monkeypatch.setattr(storage.ObjectStore, "put_file", real_put)
    s3.start()  # same port, same in-memory buckets
    assert read_pointer("s3://models/digits")["run_id"] == "run-1"


def test_publish_to_a_local_folder(results, tmp_path):
    record = run_publish(results, str(tmp_path / "pub"), "run-1")
    assert record["published"]
    pointer = json.loads((tmp_path / "pub/latest.json").read_text())
    assert pointer["run_id"] == "run-1" and (tmp_path / "pub/run-1/model/model.json").is_file()


def test_credentials_never_reach_logs_or_published_objects(s3, results, capsys):
    storage.ObjectStore.from_env().ensure_bucket("models")
    run_publish(results, "s3://models/digits", "run-1")
    out = capsys.readouterr()
    secret = os.environ["MINIO_SECRET_KEY"]
    assert secret not in out.out + out.err
    assert secret not in json.dumps(read_pointer("s3://models/digits"))


def test_sensitivity_resumes_from_an_object_store_checkpoint(s3, tiny_model, tiny_dataset, tmp_path):
    from slimpipe.stages.sensitivity import sensitivity

    storage.ObjectStore.from_env().ensure_bucket("ckpt")
    uri = "s3://ckpt/run-1/sensitivities.json"
    first = sensitivity(tiny_model, tiny_dataset, tmp_path / "pod1.json", ratios=[0.3], checkpoint=uri)
    # a new pod: no local file, the checkpoint holds the 0.3 column; only 0.6 is evaluated now
    second = sensitivity(tiny_model, tiny_dataset, tmp_path / "pod2.json", ratios=[0.3, 0.6], checkpoint=uri)
    layers = len(second["sensitivities"])
    assert first["evaluations"] == layers and second["evaluations"] == 2 * layers
    for layer, losses in first["sensitivities"].items():
        assert second["sensitivities"][layer]["0.3"] == losses["0.3"]
    assert json.loads(storage.ObjectStore.from_env().get_bytes("ckpt", "run-1/sensitivities.json"))["complete"]
