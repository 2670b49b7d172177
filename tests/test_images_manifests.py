"""Images are tagged with the package version; manifests render with kustomize and are valid Kubernetes
objects with no real secrets. (The Dockerfiles are checked in test_dockerfiles.py.)"""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import slimpipe

ROOT = Path(__file__).resolve().parent.parent


def test_image_tags_follow_the_package_version():
    import slimpipe.images as image

    assert image.CPU_IMAGE.endswith(f"slimpipe-cpu:{slimpipe.__version__}")
    assert image.GPU_IMAGE.endswith(f"slimpipe-gpu:{slimpipe.__version__}")


MANIFESTS = sorted((ROOT / "manifests").rglob("*.yaml"))


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_manifest_has_the_fields_kubernetes_requires(path):
    for doc in yaml.safe_load_all(path.read_text()):
        assert doc["apiVersion"] and doc["kind"], path
        if doc["kind"] != "Kustomization":
            assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"]), path
        else:
            for resource in doc["resources"]:
                assert (path.parent / resource).exists(), f"{path}: {resource} missing"
        if doc["kind"] == "Deployment":
            spec = doc["spec"]
            assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
            assert all(c["name"] and c["image"] for c in spec["template"]["spec"]["containers"])


def test_pipeline_root_is_the_kubeflow_artifact_store():
    doc = yaml.safe_load((ROOT / "manifests/base/kfp-launcher-configmap.yaml").read_text())
    assert doc["metadata"]["name"] == "kfp-launcher"
    assert doc["data"]["defaultPipelineRoot"] == "minio://mlpipeline/v2/artifacts"


def test_secret_is_a_template_without_real_credentials():
    doc = yaml.safe_load((ROOT / "manifests/base/object-store-secret.yaml").read_text())
    assert doc["kind"] == "Secret"
    assert doc["stringData"]["accesskey"] == "REPLACE_ME" and doc["stringData"]["secretkey"] == "REPLACE_ME"


def serving_docs() -> dict[str, dict]:
    return {doc["kind"]: doc for name in ("serviceaccount.yaml", "s3-secret.yaml")
            for doc in yaml.safe_load_all((ROOT / "manifests/serving" / name).read_text())}


def test_serving_secret_is_a_template_with_the_annotations_kserve_reads():
    secret = serving_docs()["Secret"]
    assert secret["stringData"] == {"awsAccessKeyID": "REPLACE_ME", "awsSecretAccessKey": "REPLACE_ME"}
    annotations = secret["metadata"]["annotations"]
    assert {"serving.kserve.io/s3-endpoint", "serving.kserve.io/s3-usehttps"} <= set(annotations)
    assert all(isinstance(value, str) for value in annotations.values())  # "0", not 0: annotations are strings


def test_serving_account_is_the_one_published_manifests_name_and_lists_the_secret():
    from slimpipe.stages.publish import SERVICE_ACCOUNT

    docs = serving_docs()
    assert docs["ServiceAccount"]["metadata"]["name"] == SERVICE_ACCOUNT
    assert docs["ServiceAccount"]["secrets"] == [{"name": docs["Secret"]["metadata"]["name"]}]


def test_no_manifest_carries_a_credential():
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc["kind"] == "Secret":
                secret = {k: v for k, v in doc["stringData"].items() if "key" in k.lower()}
                assert secret and set(secret.values()) == {"REPLACE_ME"}, path


KUSTOMIZATIONS = sorted(p.parent for p in (ROOT / "manifests").rglob("kustomization.yaml"))
KUBECTL = shutil.which("kubectl")


def kubectl_skip_reason() -> str | None:
    """kubectl >= 1.21 (kustomize >= 4: `labels`, directories in `resources`); Debian bookworm's 1.20 is older."""
    if KUBECTL is None:
        return "kubectl not installed (kubectl >= 1.21 renders the manifests)"
    done = subprocess.run([KUBECTL, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=30)
    minor = int(re.match(r"[0-9]+", json.loads(done.stdout)["clientVersion"]["minor"]).group())
    return None if minor >= 21 else f"{KUBECTL} is 1.{minor}; its kustomize v2 cannot render these manifests (>= 1.21)"


KUBECTL_SKIP = kubectl_skip_reason()
needs_kubectl = pytest.mark.skipif(KUBECTL_SKIP is not None, reason=str(KUBECTL_SKIP))


def kustomize(directory: Path) -> list[dict]:
    done = subprocess.run([KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"kubectl kustomize {directory.relative_to(ROOT)}: {done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@needs_kubectl
@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_kustomize_renders_every_kustomization(directory):
    docs = kustomize(directory)
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    namespace = kustomization["namespace"]  # kubeflow, or a profile's namespace for serving
    assert len(docs) >= len(kustomization["resources"]) and all(doc["metadata"]["namespace"] == namespace
                                                                for doc in docs)


@needs_kubectl
@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_rendered_resources_validate_against_kubernetes_schemas(directory):
    import kubernetes_validate
    from kubernetes_validate.utils import latest_version

    for doc in kustomize(directory):  # strict: unknown fields fail too; the schemas ship in the package
        kubernetes_validate.validate(doc, latest_version(), strict=True)


def test_schema_validation_rejects_a_misspelt_field():
    import kubernetes_validate
    from kubernetes_validate.utils import latest_version

    doc = yaml.safe_load((ROOT / "manifests/base/serviceaccount.yaml").read_text())
    doc["automountServiceAcountToken"] = False
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, latest_version(), strict=True)
