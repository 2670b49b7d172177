"""The report's figures from two benchmark results: speed-up efficiency, and a latency target's prediction."""
from slimpipe.benchmark_result import BenchmarkResult
from slimpipe.stages.report import comparison, render


def bench(latency, flops, pruning=None):
    return BenchmarkResult.from_dict({"arch": "mobilenetv2", "task": "classification", "metric": "accuracy", "metric_value": 0.9,
            "latency_ms": {"mean": latency}, "param_file_bytes": 4000, "params": 1000, "flops": flops,
            "device": "cpu", "mkldnn": False, "threads": 1, "batch_size": 1, "repeats": 50, "warmup": 10,
            "pruning": pruning})


def test_speedup_efficiency_is_the_speedup_over_the_flops_ratio():
    c = comparison(bench(10.0, 1000), bench(6.1, 320))  # 1.64x faster for 3.125x fewer FLOPs
    assert c.flops_ratio == 1000 / 320
    assert round(c.speedup_efficiency, 2) == 0.52


def test_the_report_states_the_efficiency():
    text = render(bench(10.0, 1000), bench(5.0, 500, {"eval_metric_loss": 0.05, "criterion": "l1_norm"}))
    assert "- Speed-up efficiency (speed-up / FLOPs ratio): 1.00 (2.00x faster for 2.00x fewer FLOPs)" in text
    assert "- Pruning: eval_metric_loss 0.05," in text
    assert "Latency predicted" not in text


def test_a_latency_target_reports_predicted_against_measured():
    pruning = {"target_speedup": 2.0, "criterion": "l1_norm", "base_ms": 10.0, "predicted_ms": 5.0,
               "measured_ms": 4.8, "latency_iterations": 2, "layers_pruned": 7}
    text = render(bench(10.0, 1000), bench(4.9, 450, pruning))
    assert "- Pruning: latency target 2x faster, criterion l1_norm, 7 layers pruned" in text
    assert ("- Latency predicted from the latency table: 5.00 ms (2.00x); measured while pruning: 4.80 ms (2.08x), "
            "prediction error +4.2%; 2 measure-and-correct iteration(s); this benchmark: 2.04x") in text
