"""Dockerfiles pin what pyproject.toml pins; manifests are valid Kubernetes objects with no real secrets."""
import re
import tomllib
from pathlib import Path

import pytest
import yaml

import slimpipe

ROOT = Path(__file__).resolve().parent.parent
PINS = dict(re.match(r"([A-Za-z0-9_.-]+)==(.+)", dep).groups()
            for dep in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])


def dockerfile_pins(path: Path) -> dict[str, str]:
    text = path.read_text()
    return dict(re.findall(r"\b([A-Za-z][A-Za-z0-9_.-]*)==([0-9][A-Za-z0-9_.]*)", text))


def test_cpu_image_pins_the_same_versions_as_pyproject():
    pins = dockerfile_pins(ROOT / "images/cpu/Dockerfile")
    for name, version in PINS.items():
        assert pins.get(name) == version, f"images/cpu/Dockerfile: {name} should be =={version}"


def test_gpu_image_pins_the_same_versions_with_the_cuda_build_of_paddle():
    pins = dockerfile_pins(ROOT / "images/gpu/Dockerfile")
    for name, version in PINS.items():
        name = "paddlepaddle-gpu" if name == "paddlepaddle" else name
        assert pins.get(name) == version, f"images/gpu/Dockerfile: {name} should be =={version}"
    text = (ROOT / "images/gpu/Dockerfile").read_text()
    assert "nvidia/cuda:12.0" in text and "cudnn8" in text and "tensorrt==8.6" in text


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
