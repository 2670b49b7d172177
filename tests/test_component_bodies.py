"""Component bodies called directly through `<component>.python_func(...)`, as kubeflow/pipelines-components tests
them: artifacts are kfp's own classes pointed at local files; the tests assert what a body writes and logs."""
import base64
import json
import re
import sys

import pytest
from kfp.dsl import HTML, Artifact, ClassificationMetrics, Markdown, Metrics, Model

from slimpipe.components.benchmark.component import benchmark
from slimpipe.components.report.component import report
from slimpipe.components.sweep_select.component import sweep_select
from slimpipe.components.visualize.component import visualize


@pytest.fixture(autouse=True)
def keep_excepthook():
    """A body's first call (report_failures) replaces sys.excepthook for its pod; put it back after each test."""
    hook = sys.excepthook
    yield
    sys.excepthook = hook


def artifact(kind, path):
    return kind(uri=str(path))


def result_file(path, latency, metric, pruned=False, pruning=None, **extra):
    data = {"format": "slimpipe.benchmark/1", "model": "m", "arch": "mobilenetv2", "task": "classification",
            "pruned": pruned, "pruning": pruning, "device": "cpu", "mkldnn": False, "threads": 1, "trt": False,
            "precision": None, "measured": True, "batch_size": 1, "warmup": 10, "repeats": 50,
            "latency_ms": {"mean": latency, "p50": latency, "p90": latency, "std": 0.0, "min": latency},
            "param_file_bytes": 400_000 if not pruned else 200_000, "flops": 1000 if not pruned else 400,
            "params": 100 if not pruned else 50, "metric": "accuracy", "metric_value": metric,
            "metrics": {"accuracy": metric}} | extra
    path.write_text(json.dumps(data))
    return path


def embedded_png(page: str) -> bytes:
    found = re.search(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert found, page[:200]
    return base64.b64decode(found.group(1))


@pytest.fixture
def results(tmp_path):
    return (result_file(tmp_path / "base.json", 10.0, 0.90),
            result_file(tmp_path / "pruned.json", 5.0, 0.89, pruned=True,
                        pruning={"criterion": "l1_norm", "eval_metric_loss": 0.05, "layers_pruned": 3}))


def run_report(tmp_path, base, pruned, **gpu):
    out = {"report": artifact(Markdown, tmp_path / "report.md"), "chart": artifact(HTML, tmp_path / "chart.html"),
           "summary": artifact(Metrics, tmp_path / "summary")}
    report.python_func(base=artifact(Artifact, base), pruned=artifact(Artifact, pruned), **out,
                       **{k: artifact(Artifact, v) for k, v in gpu.items()})
    return out


def test_report_writes_the_table_and_logs_the_comparison_from_the_stage_record(results, tmp_path):
    out = run_report(tmp_path, *results)
    assert "| 0.9000 |" in (tmp_path / "report.md").read_text()
    logged = out["summary"].metadata
    assert logged["speedup"] == 2.0 and logged["pruned_params"] == 0.5 and logged["flops_ratio"] == 2.5
    assert logged["metric_drop_points"] == pytest.approx(1.0)
    assert "metric" not in logged  # the metric's name is no figure


def test_report_embeds_its_chart_as_a_png_in_the_html_page(results, tmp_path):
    run_report(tmp_path, *results)
    page = (tmp_path / "chart.html").read_text()
    assert "alt='before and after pruning'" in page
    assert embedded_png(page).startswith(b"\x89PNG\r\n\x1a\n")


def test_report_adds_gpu_rows_when_the_gpu_results_are_connected(results, tmp_path):
    gpu = {"format": "slimpipe.benchmark/1", "model": "m", "arch": "mobilenetv2", "task": "classification",
           "pruned": False, "device": "gpu", "trt": True, "measured": False, "reason": "no visible GPU"}
    (tmp_path / "gpu.json").write_text(json.dumps(gpu))
    run_report(tmp_path, *results, gpu_base=tmp_path / "gpu.json", gpu_pruned=tmp_path / "gpu.json")
    assert "GPU + TensorRT: not measured (no visible GPU) | - | - | - |" in (tmp_path / "report.md").read_text()


def test_sweep_select_writes_the_chosen_model_and_a_page_with_the_chart_and_the_table(tmp_path):
    base = result_file(tmp_path / "base.json", 10.0, 0.90)
    results, models = [], []
    for loss, latency, metric in ((0.02, 8.0, 0.905), (0.1, 4.0, 0.85)):  # 0.1 drops 5 points: fails the gate
        results.append(artifact(Artifact, result_file(tmp_path / f"r{loss}.json", latency, metric, pruned=True,
                                                      pruning={"eval_metric_loss": loss})))
        (tmp_path / f"m{loss}").mkdir()
        (tmp_path / f"m{loss}/model.json").write_text(json.dumps({"loss": loss}))
        models.append(artifact(Model, tmp_path / f"m{loss}"))
    chosen, chart = artifact(Model, tmp_path / "chosen"), artifact(HTML, tmp_path / "sweep.html")
    sweep_select.python_func(base=artifact(Artifact, base), results=results, models=models, pruned_model=chosen,
                             result=artifact(Artifact, tmp_path / "result.json"),
                             sweep=artifact(Markdown, tmp_path / "sweep.md"), chart=chart, max_drop_points=1.0)
    assert chosen.metadata["eval_metric_loss"] == 0.02
    assert json.loads((tmp_path / "chosen/model.json").read_text()) == {"loss": 0.02}
    page = (tmp_path / "sweep.html").read_text()
    assert embedded_png(page).startswith(b"\x89PNG")
    assert "| 0.02 |" in page and "Chosen: eval_metric_loss 0.02" in page


def test_a_gpu_benchmark_without_a_gpu_records_and_logs_not_measured(tiny_model, tiny_dataset, tmp_path):
    from slimpipe.inference import gpu_unavailable_reason

    if not gpu_unavailable_reason(trt=False):
        pytest.skip("a usable GPU is here: the benchmark would measure")
    result, metrics = artifact(Artifact, tmp_path / "result.json"), artifact(Metrics, tmp_path / "metrics")
    benchmark.python_func(model=artifact(Model, tiny_model), dataset=artifact(Artifact, tiny_dataset), result=result,
                          metrics=metrics, confusion=artifact(ClassificationMetrics, tmp_path / "confusion"),
                          device="gpu")
    assert result.metadata["measured"] is False and result.metadata["reason"].startswith("GPU benchmark not possible")
    assert metrics.metadata == {}
    written = json.loads((tmp_path / "result.json").read_text())
    assert list(written) == ["format", "model", "arch", "task", "pruned", "device", "trt", "measured", "reason"]


def test_visualize_copies_the_page_and_records_the_summary(tiny_model, tiny_sensitivities, tmp_path):
    page, plots = artifact(HTML, tmp_path / "page.html"), artifact(Artifact, tmp_path / "plots")
    visualize.python_func(model=artifact(Model, tiny_model), sensitivities=artifact(Artifact, tiny_sensitivities),
                          page=page, plots=plots)
    html = (tmp_path / "page.html").read_text()
    assert html == (tmp_path / "plots/index.html").read_text()
    assert "alt='sensitivity curve' style='max-width:720px'" in html and embedded_png(html).startswith(b"\x89PNG")
    assert plots.metadata["summary"] and all(isinstance(line, str) for line in plots.metadata["summary"])
    assert not (tmp_path / "plots/latency.png").exists()  # no latency table connected
