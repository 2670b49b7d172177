"""The pipeline and its components run through Kubeflow Pipelines' local runner (kfp.local)."""
import json
from pathlib import Path

import pytest

from slimpipe.cli import main

ROOT = Path(__file__).resolve().parent.parent
TINY_PARAMS = ["--epochs", "1", "--prune-epochs", "1", "--input-size", "32", "--arch-options", "scale=0.25",
               "--ratios", "0.3,0.6", "--benchmark-warmup", "1", "--benchmark-repeats", "3"]


@pytest.fixture(scope="module")
def local_run(tiny_dataset, tmp_path_factory):
    """The whole pipeline with the dataset read from, and the results published to, an S3-protocol
    server on 127.0.0.1; the GPU benchmark is requested on a machine without a GPU."""
    from slimpipe import storage
    from slimpipe.demo import upload_dataset
    from slimpipe.local_s3 import embedded_s3

    root = tmp_path_factory.mktemp("kfp")
    with embedded_s3():
        upload_dataset(tiny_dataset, "s3://pipeline-test/datasets/tiny")
        code = main(["run", "--dataset", "s3://pipeline-test/datasets/tiny", "--gpu-benchmark", "--sensitivity-shards", "2",
                     "--publish-to", "s3://pipeline-test/models/tiny", "--max-drop-points", "100",
                     "--root", str(root / "runs"), "--out", str(root / "results"), *TINY_PARAMS])
        assert code == 0
        store = storage.ObjectStore.from_env()
        pointer = json.loads(store.get_bytes("pipeline-test", "models/tiny/latest.json"))
        published = {key: store.exists("pipeline-test", key) for key in pointer["objects"]}
    return {"results": root / "results", "pointer": pointer, "published": published, "runs": root / "runs"}


@pytest.mark.slow
def test_local_run_collects_every_stage_output(local_run):
    local_run = local_run["results"]
    for name in ("model/model.json", "pruned/model.json", "sensitivities.json", "visualization/sensitivities.png",
                 "benchmark_base_cpu.json", "benchmark_pruned_cpu.json", "report.md", "report.html"):
        assert (local_run / name).exists(), name
    assert json.loads((local_run / "pruned/model.json").read_text())["pruning"]["ratios"] is not None
    assert "data:image/png;base64," in (local_run / "report.html").read_text()


@pytest.mark.slow
def test_gpu_benchmark_without_a_gpu_reports_not_measured_with_the_reason(local_run):
    local_run = local_run["results"]
    report = (local_run / "report.md").read_text()
    assert "| MobileNetV2, GPU + TensorRT: not measured (GPU benchmark not possible: " in report
    assert "no CUDA support" in report
    gpu = json.loads((local_run / "benchmark_base_gpu.json").read_text())
    assert gpu["measured"] is False and "latency_ms" not in gpu


@pytest.mark.slow
def test_a_run_for_gpu_serving_aligns_widths_to_8_and_reports_how_many(local_run):
    pruning = json.loads((local_run["results"] / "pruned/model.json").read_text())["pruning"]
    assert pruning["align"] == 8 and pruning["aligned_layers"] == len(pruning["ratios"])
    report = (local_run["results"] / "report.md").read_text()
    assert "widths aligned to multiples of 8" in report
    assert f"kept width is a multiple of 8 (GPU-friendly): {len(pruning['ratios'])} of {len(pruning['ratios'])}" in report


@pytest.mark.slow
def test_local_run_publishes_every_object_then_the_pointer(local_run):
    pointer = local_run["pointer"]
    assert pointer["run_id"].startswith("slimpipe-prune-") and pointer["gate"]["passed"]
    assert all(local_run["published"].values()) and len(local_run["published"]) > 5
    names = {key.split("/", 3)[-1] for key in pointer["objects"]}
    assert {"model/model.json", "model/inference/model.pdiparams", "sensitivities.json",
            "visualization/sensitivities.png", "report.md", "benchmark_base.json"} <= names


@pytest.mark.slow
def test_a_different_pipeline_built_from_the_committed_component_files(tiny_dataset, tmp_path):
    from kfp import components, dsl, local

    ingest = components.load_component_from_file(str(ROOT / "components/ingest/component.yaml"))
    train = components.load_component_from_file(str(ROOT / "components/train/component.yaml"))

    @dsl.pipeline(name="train-only")
    def train_only(dataset: str):
        data = ingest(dataset_uri=dataset)
        train(dataset=data.outputs["dataset"], epochs=1, input_size=32, arch_options="scale=0.25")

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))
    train_only(dataset=str(tiny_dataset))
    (model_json,) = tmp_path.glob("train-only-*/train/model/model.json")
    assert json.loads(model_json.read_text())["arch"] == "mobilenetv2"


@pytest.mark.slow
def test_the_sensitivity_analysis_runs_as_two_shards_and_is_merged(local_run):
    merged = json.loads((local_run["results"] / "sensitivities.json").read_text())
    assert merged["complete"] and merged["shard"] is None
    assert list(merged["sensitivities"]) == list(merged["all_layers"])
    shards = [json.loads(p.read_text()) for p in local_run["runs"].rglob("sensitivity/sensitivities")]
    assert sorted(tuple(s["shard"]) for s in shards) == [(0, 2), (1, 2)]


@pytest.mark.slow
def test_a_sweep_publishes_the_fastest_model_that_passes_the_gate(tiny_dataset, tmp_path):
    code = main(["run", "--dataset", str(tiny_dataset), "--sweep-losses", "0.05,0.5", "--max-drop-points", "100",
                 "--root", str(tmp_path / "runs"), "--out", str(tmp_path / "results"), *TINY_PARAMS])
    assert code == 0
    table = (tmp_path / "results/sweep.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| 0.")]
    assert len(rows) == 2 and sum("**yes**" in row for row in rows) == 1
    chosen = next(row for row in rows if "**yes**" in row).split("|")[1].strip()
    pruned = json.loads((tmp_path / "results/pruned/model.json").read_text())
    assert pruned["pruning"]["eval_metric_loss"] == float(chosen)
    assert "Sweep of eval_metric_loss" in table and (tmp_path / "results/report.md").exists()


@pytest.mark.slow
def test_a_latency_target_measures_the_table_and_prunes_to_it(tiny_dataset, tmp_path):
    """The latency table is measured only when a latency target asks for it, and prune-train reads it."""
    code = main(["run", "--dataset", str(tiny_dataset), "--target-speedup", "1.05", "--max-layer-loss", "1",
                 "--root", str(tmp_path / "runs"), "--out", str(tmp_path / "results"), *TINY_PARAMS])
    assert code == 0
    pruning = json.loads((tmp_path / "results/pruned/model.json").read_text())["pruning"]
    assert pruning["target_speedup"] == 1.05 and pruning["eval_metric_loss"] is None
    assert pruning["iterations"] and pruning["measured_ms"] > 0 and pruning["predicted_ms"] > 0
    assert (tmp_path / "results/visualization/latency.png").exists()
    assert "Latency predicted from the latency table" in (tmp_path / "results/report.md").read_text()
