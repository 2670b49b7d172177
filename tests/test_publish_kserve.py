"""A published run is ready for KServe: its model folder is what the paddle runtime loads (one `.pdmodel`,
one `.pdiparams`), and `inferenceservice.yaml` is an InferenceService serving it, sized from the benchmark,
linked from the record and the report."""
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from slimpipe import storage
from slimpipe.cli import main
from slimpipe.stages import publish as pub
from tests.s3_fixtures import s3  # noqa: F401  (fixture)
from tests.test_cli_ingest_publish import publish_argv, write_benchmarks

QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi)?")
ISVC_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")  # KServe's IsvcNameFmt (inference_service_validation.go)


@pytest.fixture
def results(tmp_path, tiny_model):
    """A run's results: the tiny model, two benchmarks (measured at 2 threads), a report."""
    root = tmp_path / "results"
    shutil.copytree(tiny_model, root / "model")
    write_benchmarks(root)
    for name in ("base.json", "pruned.json"):
        data = json.loads((root / name).read_text())
        (root / name).write_text(json.dumps(data | {"threads": 2}))
    (root / "report.md").write_text("# Pruning report: MobileNetV2\n")
    return root


def manifest(run: Path) -> dict:
    docs = list(yaml.safe_load_all((run / pub.MANIFEST).read_text()))
    assert len(docs) == 1
    return docs[0]


def check_inference_service(doc: dict) -> dict:
    """The fields of serving.kserve.io/v1beta1 InferenceService this manifest uses, as KServe's CRD and
    validation webhook define them (checked here field by field: no CRD schema ships with the tests)."""
    assert doc["apiVersion"] == "serving.kserve.io/v1beta1" and doc["kind"] == "InferenceService"
    assert ISVC_NAME.fullmatch(doc["metadata"]["name"]) and len(doc["metadata"]["name"]) <= 45
    assert set(doc) == {"apiVersion", "kind", "metadata", "spec"} and set(doc["spec"]) == {"predictor"}
    predictor = doc["spec"]["predictor"]
    assert set(predictor) == {"serviceAccountName", "model"}
    model = predictor["model"]
    assert set(model) == {"modelFormat", "storageUri", "resources"} and model["modelFormat"] == {"name": "paddle"}
    resources = model["resources"]
    assert set(resources) == {"requests", "limits"}
    for kind in ("requests", "limits"):
        assert set(resources[kind]) == {"cpu", "memory"}
        assert all(isinstance(v, str) and QUANTITY.fullmatch(v) for v in resources[kind].values())
    return predictor


def as_pod(doc: dict) -> dict:
    """The manifest's Kubernetes-core parts (metadata, service account, resources) as the pod KServe makes."""
    predictor = doc["spec"]["predictor"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": doc["metadata"],
            "spec": {"serviceAccountName": predictor["serviceAccountName"],
                     "containers": [{"name": "kserve-container", "image": "kserve/paddleserver:latest",
                                     "resources": predictor["model"]["resources"]}]}}


def kserve_model_files(folder: Path) -> tuple[Path, Path]:
    """What KServe's paddle runtime loads from a downloaded storageUri (python/paddleserver/model.py): the
    one file ending .pdmodel (else .json) and the one ending .pdiparams, directly in the folder."""
    def one(*exts):
        for ext in exts:
            matches = [name for name in os.listdir(folder) if name.endswith(ext)]
            if len(matches) > 1:
                raise AssertionError(f"more than one {ext} model file found")
            if matches:
                return folder / matches[0]
        raise AssertionError(f"missing model file with extension {exts}")

    return one(".pdmodel", ".json"), one(".pdiparams")


def predicts(program: Path, params: Path) -> bool:
    import numpy as np
    from paddle import inference

    config = inference.Config(str(program), str(params))
    config.disable_gpu()
    predictor = inference.create_predictor(config)
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    handle.copy_from_cpu(np.zeros([1, 3, 32, 32], dtype="float32"))
    predictor.run()
    return predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu().shape[0] == 1


def test_a_local_publish_writes_a_manifest_serving_the_model_folder(results, tmp_path):
    dest = tmp_path / "published" / "digits"
    assert main(publish_argv(results, dest, "run-1")) == 0
    run = dest / "run-1"
    doc = manifest(run)
    predictor = check_inference_service(doc)
    assert doc["metadata"]["name"] == "digits" and doc["metadata"]["annotations"]["slimpipe/run-id"] == "run-1"
    assert predictor["serviceAccountName"] == pub.SERVICE_ACCOUNT
    folder = Path(predictor["model"]["storageUri"].removeprefix("file://"))
    assert predictor["model"]["storageUri"].startswith("file:///") and folder == (run / "model/inference").resolve()
    assert predicts(*kserve_model_files(folder))


def test_a_local_manifest_says_to_upload_the_folder(results, tmp_path):
    assert main(publish_argv(results, tmp_path / "pub", "run-1")) == 0
    text = (tmp_path / "pub/run-1" / pub.MANIFEST).read_text()
    assert f"upload {(tmp_path / 'pub/run-1/model/inference').resolve()}\n# to your object store" in text


def test_the_manifest_validates_as_kubernetes_objects():
    import kubernetes_validate
    from kubernetes_validate.utils import latest_version

    resources = pub.serving_resources(2, 9 << 20, 70 << 20)
    doc = pub.inference_service("digits", "s3://models/digits/r/model/inference", pub.SERVICE_ACCOUNT, resources,
                                "r", "2026-06-01T12:00:00.000000Z")
    parsed = yaml.safe_load(pub.manifest_text(doc, {"threads": "2", "param_file_bytes": 9 << 20,
                                                    "intermediate_bytes": 70 << 20}, None, ["image"]))
    assert parsed == doc
    check_inference_service(parsed)
    kubernetes_validate.validate(as_pod(parsed), latest_version(), strict=True)
    broken = as_pod(parsed)
    broken["spec"]["containers"][0]["resources"]["request"] = {"cpu": "1"}  # misspelt
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, latest_version(), strict=True)


def test_resources_follow_the_benchmark_threads_and_the_model_size():
    small = pub.serving_resources(1, 1 << 20, 1 << 20)
    assert small == {"requests": {"cpu": "1", "memory": "576Mi"}, "limits": {"cpu": "1", "memory": "1152Mi"}}
    # 512 + 2 x 51 + 2110 MiB (UNet at 512 x 512: 2346 MiB measured for Paddle alone) -> 2752Mi
    large = pub.serving_resources(4, 51 << 20, 2110 << 20)
    assert large["requests"] == {"cpu": "4", "memory": "2752Mi"} and large["limits"]["memory"] == "5504Mi"


def test_published_resources_are_the_pruned_benchmarks(results, tmp_path):
    assert main(publish_argv(results, tmp_path / "pub", "run-1")) == 0
    requests = manifest(tmp_path / "pub/run-1")["spec"]["predictor"]["model"]["resources"]["requests"]
    intermediate, inputs = pub.program_figures(results / "model/inference/model.pdmodel")
    assert inputs == ["image"] and intermediate > 0
    assert requests == pub.serving_resources(2, 1000, intermediate)["requests"]  # BENCH's param_file_bytes


def test_the_record_and_the_report_link_the_manifest(results, tmp_path):
    dest = tmp_path / "pub"
    assert main(publish_argv(results, dest, "run-1", "--report", results / "report.md",
                             "--service-account", "models-reader")) == 0
    record = json.loads((dest / "run-1" / pub.RECORD).read_text())
    assert record["format"] == pub.RECORD_FORMAT
    assert record["serving"]["manifest"] == str(dest / "run-1" / pub.MANIFEST)
    assert record["serving"]["service_account"] == "models-reader"
    assert "run-1/inferenceservice.yaml" in record["objects"]
    report = (dest / "run-1/report.md").read_text()
    assert report.startswith("# Pruning report: MobileNetV2\n")
    assert "## Serving" in report and f"[{pub.MANIFEST}]({pub.MANIFEST})" in report
    assert manifest(dest / "run-1")["spec"]["predictor"]["serviceAccountName"] == "models-reader"


def kserve_download(store, uri: str, dest: Path) -> Path:
    """What KServe's storage initializer downloads for an s3:// storageUri (kserve_storage._download_s3):
    every object whose key starts with the path (no '/' added), at the key less that path."""
    loc = storage.parse_uri(uri)
    for obj in store.client.list_objects(bucket_name=loc.bucket, prefix=loc.prefix, recursive=True):
        target = dest / obj.object_name.removeprefix(loc.prefix).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get_bytes(loc.bucket, obj.object_name))
    return dest


def test_an_object_store_publish_serves_the_uploaded_folder(s3, results, tmp_path):
    store = storage.ObjectStore.from_env()
    store.ensure_bucket("models")
    assert main(publish_argv(results, "s3://models/digits", "run-1")) == 0
    doc = yaml.safe_load(store.get_bytes("models", "digits/run-1/inferenceservice.yaml"))
    uri = check_inference_service(doc)["model"]["storageUri"]
    assert uri == "s3://models/digits/run-1/model/inference"
    assert "upload" not in store.get_bytes("models", "digits/run-1/inferenceservice.yaml").decode()
    folder = kserve_download(store, uri, tmp_path / "downloaded")
    assert sorted(os.listdir(folder)) == sorted(os.listdir(results / "model/inference"))
    assert predicts(*kserve_model_files(folder))


def test_a_model_folder_kserve_could_not_load_is_refused_before_anything_is_written(results, tmp_path, capsys):
    shutil.copyfile(results / "model/inference/model.pdmodel", results / "model/inference/other.pdmodel")
    assert main(publish_argv(results, tmp_path / "pub", "run-1")) == 2
    err = capsys.readouterr().err
    assert "inference: KServe's paddle runtime needs exactly one .pdmodel file in the model folder; found 2" in err
    assert not (tmp_path / "pub").exists()


def test_a_multi_input_model_is_flagged_for_the_stock_runtime():
    doc = pub.inference_service("shapes", "s3://m/s/r/model/inference", pub.SERVICE_ACCOUNT,
                                pub.serving_resources(1, 1, 1), "r", "2026-06-01T12:00:00.000000Z")
    sizing = {"threads": "1", "param_file_bytes": 1, "intermediate_bytes": 1}
    text = pub.manifest_text(doc, sizing, None, ["image", "im_shape", "scale_factor"])
    assert "# This model takes 3 inputs (image, im_shape, scale_factor); KServe's paddle runtime feeds only" in text
    assert "inputs" not in pub.manifest_text(doc, sizing, None, ["image"])


@pytest.mark.parametrize("dest, name", [("s3://models/digits", "digits"), ("/srv/Models/UNet_v2.1/", "unet-v2-1"),
                                        ("s3://models/2024", "slimpipe-2024"), ("s3://models/" + "x" * 80, "x" * 45)])
def test_service_name_is_a_kserve_name_from_the_destination(dest, name):
    assert pub.service_name(dest) == name and ISVC_NAME.fullmatch(name)
