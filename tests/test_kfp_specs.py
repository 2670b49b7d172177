"""Compiled specs are committed and current; component files follow the Kubeflow conventions."""
import ast
import sys
from pathlib import Path

import yaml

import slimpipe
from slimpipe.pipelines.build import STAGES, compile_components, compile_pipeline, component_specs

ROOT = Path(__file__).resolve().parent.parent
ALLOWED_TOP_LEVEL = {"kfp", "typing", "slimpipe.components._image"}


def parsed(path: Path) -> list:
    """The YAML documents; the compiler's header comment lists dict defaults in hash order, so compare
    content, not bytes."""
    return list(yaml.safe_load_all(path.read_text()))


def test_pipeline_compiles_to_the_committed_golden_file(tmp_path):
    fresh = parsed(compile_pipeline(tmp_path / "p.yaml"))
    golden = parsed(ROOT / "pipelines/prune_pipeline.yaml")
    assert fresh == golden, "pipeline changed: run `make compile` and review the diff of the golden file"


def test_every_component_yaml_is_up_to_date(tmp_path):
    written = compile_components(tmp_path)
    assert len(written) == len(component_specs()) >= len(STAGES)
    for fresh in written:
        committed = ROOT / "components" / fresh.relative_to(tmp_path)
        assert committed.is_file(), f"{committed} is not committed: run `make compile`"
        assert parsed(fresh) == parsed(committed), f"{committed} is out of date: run `make compile`"
        readme = fresh.parent / "README.md"
        assert readme.read_text() == (committed.parent / "README.md").read_text(), \
            f"{committed.parent}/README.md is out of date: run `make compile`"


def test_component_files_import_only_the_standard_library_and_kfp_at_top_level():
    for stage in STAGES:
        path = ROOT / "components" / stage / "component.py"
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                for name in names:
                    top = name.split(".")[0]
                    assert name in ALLOWED_TOP_LEVEL or top in sys.stdlib_module_names or top == "kfp", \
                        f"{path}: top-level import of {name}"


def test_every_image_is_tagged_with_the_package_version():
    images = []
    for path in [ROOT / "pipelines/prune_pipeline.yaml", *ROOT.glob("components/*/component*.yaml")]:
        for doc in yaml.safe_load_all(path.read_text()):
            for executor in (doc or {}).get("deploymentSpec", {}).get("executors", {}).values():
                images.append(executor["container"]["image"])
    assert images and all(image.endswith(f":{slimpipe.__version__}") for image in images)


def test_components_do_not_install_packages_at_run_time():
    text = (ROOT / "pipelines/prune_pipeline.yaml").read_text()
    assert "pip install" not in text


def test_gpu_benchmark_asks_for_a_gpu_on_the_gpu_image_only():
    spec = parsed(ROOT / "pipelines/prune_pipeline.yaml")[0]
    executors = spec["deploymentSpec"]["executors"]
    gpu = {k: v for k, v in executors.items() if "accelerator" in v["container"].get("resources", {})}
    assert gpu and all(v["container"]["resources"]["accelerator"]["resourceType"] == "nvidia.com/gpu"
                       for v in gpu.values())
    assert all("slimpipe-gpu" in v["container"]["image"] for v in gpu.values())
    assert all("slimpipe-cpu" in v["container"]["image"] for k, v in executors.items() if k not in gpu)


def test_ingest_is_never_cached_nor_retried_by_the_pipeline():
    """Storage retries its transient faults inside the step; ingest's other failures are deterministic."""
    spec = parsed(ROOT / "pipelines/prune_pipeline.yaml")[0]
    nested = {name: task for comp in spec["components"].values() for name, task in
              comp.get("dag", {}).get("tasks", {}).items()}  # the steps run inside the exit handler's DAG
    assert nested["ingest"]["cachingOptions"].get("enableCache", False) is False
    assert "retryPolicy" not in nested["ingest"]
    assert nested["sensitivity"]["retryPolicy"]["maxRetryCount"] == 3


def test_gpu_task_carries_node_selector_and_tolerations_from_parameters():
    platform = parsed(ROOT / "pipelines/prune_pipeline.yaml")[1]["platforms"]["kubernetes"]["deploymentSpec"]
    configs = list(platform["executors"].values())
    assert any("nodeSelector" in c and "tolerations" in c for c in configs)


def test_every_step_requests_cpu_and_memory():
    spec = parsed(ROOT / "pipelines/prune_pipeline.yaml")[0]
    for name, executor in spec["deploymentSpec"]["executors"].items():
        resources = executor["container"].get("resources", {})
        assert resources.get("cpuRequest") and resources.get("memoryRequest"), name


def test_the_batch_size_parameter_reaches_training_and_retraining():
    spec = parsed(ROOT / "pipelines/prune_pipeline.yaml")[0]
    dags = [spec["root"]["dag"]] + [c["dag"] for c in spec["components"].values() if "dag" in c]
    bound = [(task["componentRef"]["name"], task["inputs"]["parameters"]["batch_size"]["componentInputParameter"])
             for dag in dags for task in dag["tasks"].values()
             if task["componentRef"]["name"] in ("comp-train", "comp-prune-train")]
    assert {name for name, _ in bound} == {"comp-train", "comp-prune-train"}
    assert all(source.endswith("batch_size") for _, source in bound)
