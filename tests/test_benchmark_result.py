"""The benchmark result record: files read and written back byte for byte, and the comparison's figures."""
import json

import pytest

from slimpipe import atomic
from slimpipe.benchmark_result import BenchmarkResult, Comparison
from slimpipe.errors import SlimpipeError

# A result as the benchmark stage wrote it before the record existed (key order included).
MEASURED = {
    "format": "slimpipe.benchmark/1", "model": "runs/pruned", "arch": "mobilenetv2", "task": "classification",
    "pruned": True, "pruning": {"criterion": "l1_norm", "eval_metric_loss": 0.05, "layers_pruned": 20},
    "device": "cpu", "mkldnn": False, "threads": 1, "trt": False, "precision": None, "measured": True,
    "batch_size": 1, "warmup": 10, "repeats": 50,
    "latency_ms": {"mean": 7.34, "p50": 6.77, "p90": 9.26, "std": 2.07, "min": 5.58},
    "param_file_bytes": 575603, "flops": 2697892, "params": 142246, "metric": "accuracy", "metric_value": 0.8913,
    "metrics": {"accuracy": 0.8913, "confusion_matrix": [[3, 0], [1, 2]]}, "classes": ["0", "1"],
    "val_images": 359, "trt_shapes": None, "host": {"machine": "x86_64", "processor": "x86_64"},
}
NOT_MEASURED = {"format": "slimpipe.benchmark/1", "model": "runs/model", "arch": "mobilenetv2",
                "task": "classification", "pruned": False, "device": "gpu", "trt": True, "measured": False,
                "reason": "GPU benchmark not possible: no visible GPU"}


@pytest.mark.parametrize("data", [MEASURED, NOT_MEASURED], ids=["measured", "not-measured"])
def test_a_result_file_is_written_back_byte_for_byte(data, tmp_path):
    atomic.write_json(tmp_path / "old.json", data)
    BenchmarkResult.read(tmp_path / "old.json", measured=False).write(tmp_path / "new.json")
    assert (tmp_path / "new.json").read_bytes() == (tmp_path / "old.json").read_bytes()


def test_keys_this_version_does_not_know_are_kept(tmp_path):
    (tmp_path / "r.json").write_text(json.dumps(MEASURED | {"future_field": [1, 2]}))
    result = BenchmarkResult.read(tmp_path / "r.json")
    assert result.extra == {"future_field": [1, 2]} and result.to_dict()["future_field"] == [1, 2]


def test_a_not_measured_result_is_refused_where_figures_are_needed_naming_the_reason(tmp_path):
    (tmp_path / "gpu.json").write_text(json.dumps(NOT_MEASURED))
    with pytest.raises(SlimpipeError, match="gpu.json: this benchmark was not measured .GPU benchmark not possible"):
        BenchmarkResult.read(tmp_path / "gpu.json")


def test_a_result_without_figures_is_not_a_benchmark_result(tmp_path):
    (tmp_path / "r.json").write_text(json.dumps({k: v for k, v in MEASURED.items() if k != "latency_ms"}))
    with pytest.raises(SlimpipeError, match="r.json: not a slimpipe benchmark result .'latency_ms'"):
        BenchmarkResult.read(tmp_path / "r.json")


def test_the_comparison_states_the_speedup_the_shares_pruned_and_the_gate():
    base = BenchmarkResult.from_dict(MEASURED | {"pruned": False, "latency_ms": {"mean": 14.68}, "flops": 5395784,
                                                 "params": 284492, "metric_value": 0.9053})
    c = base.compare(BenchmarkResult.from_dict(MEASURED))
    assert isinstance(c, Comparison)
    assert c.speedup == pytest.approx(2.0) and c.pruned_flops == pytest.approx(0.5) and c.flops_ratio == 2.0
    assert c.metric_drop_points == pytest.approx(1.4)
    assert c.passes(1.5) and not c.passes(1.0)
    assert set(c.figures()) == set(c.to_dict()) - {"metric"}


def test_results_of_different_metrics_are_not_compared():
    base = BenchmarkResult.from_dict(MEASURED | {"metric": "miou", "task": "segmentation"})
    with pytest.raises(SlimpipeError, match="different tasks or metrics"):
        base.compare(BenchmarkResult.from_dict(MEASURED))
