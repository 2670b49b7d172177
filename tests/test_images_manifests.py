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
    import components._image as image

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
    listed = yaml.safe_load((directory / "kustomization.yaml").read_text())["resources"]
    assert len(docs) >= len(listed) and all(doc["metadata"]["namespace"] == "kubeflow" for doc in docs)


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
