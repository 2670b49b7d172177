"""The sweep (eval_metric_loss values or speed-up targets): the fastest pruned model that passes the quality gate is chosen."""
import json

import pytest

from slimpipe.errors import SlimpipeError
from slimpipe.stages.sweep import parse_losses, parse_speedups, sweep_select


def result(path, latency, metric, loss=None, params=1000):
    data = {"arch": "mobilenetv2", "task": "classification", "metric": "accuracy", "metric_value": metric,
            "latency_ms": {"mean": latency}, "param_file_bytes": params * 4, "params": params, "flops": params * 10,
            "pruning": {"eval_metric_loss": loss} if loss else None, "measured": True}
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def sweep(tmp_path):
    base = result(tmp_path / "base.json", 10.0, 0.90)
    runs = [(0.02, 8.0, 0.905), (0.05, 6.0, 0.895), (0.1, 4.0, 0.85)]  # 0.1 drops 5 points: fails the gate
    results, models = [], []
    for loss, latency, metric in runs:
        results.append(result(tmp_path / f"r{loss}.json", latency, metric, loss, params=500))
        models.append(tmp_path / f"m{loss}")
        models[-1].mkdir()
        (models[-1] / "model.json").write_text(json.dumps({"loss": loss}))
    return base, results, models, tmp_path / "out"


def test_the_fastest_model_that_passes_the_gate_is_chosen(sweep):
    base, results, models, out = sweep
    outcome = sweep_select(base, results, models, out / "model", out / "result.json", out / "sweep.md",
                           max_drop_points=1.0, chart=out / "sweep.png")
    assert outcome["eval_metric_loss"] == 0.05
    assert json.loads((out / "model/model.json").read_text()) == {"loss": 0.05}
    assert json.loads((out / "result.json").read_text())["latency_ms"]["mean"] == 6.0
    table = (out / "sweep.md").read_text()
    assert "| 0.05 | 50.0% | 50.0% | 2.0K | 6.00 ms (1.67x) | 0.8950 | +0.50 | pass | **yes** |" in table
    assert "| 0.1 | 50.0% | 50.0% | 2.0K | 4.00 ms (2.50x) | 0.8500 | +5.00 | fail |  |" in table
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_when_none_passes_the_smallest_drop_is_kept_and_said(sweep):
    base, results, models, out = sweep
    outcome = sweep_select(base, results[1:], models[1:], out / "model", out / "result.json", out / "sweep.md",
                           max_drop_points=0.5)
    assert outcome["eval_metric_loss"] == 0.05 and "none passes the gate" in outcome["report"]


def test_results_and_models_must_pair_up(sweep):
    base, results, models, out = sweep
    with pytest.raises(SlimpipeError, match="3 benchmark results for 2 models"):
        sweep_select(base, results, models[:2], out / "model", out / "result.json", out / "sweep.md")


@pytest.mark.parametrize("text", ["", "0.05,abc", "0.05,1.5"])
def test_sweep_values_are_checked(text):
    with pytest.raises(SlimpipeError, match="sweep losses"):
        parse_losses(text)


def test_a_sweep_of_speedup_targets_is_labelled_by_its_targets(tmp_path):
    base = result(tmp_path / "base.json", 10.0, 0.90)
    results, models = [], []
    for speedup, latency, metric in ((1.5, 6.5, 0.90), (2.0, 4.9, 0.895), (3.0, 3.2, 0.80)):
        path = result(tmp_path / f"r{speedup}.json", latency, metric, params=500)
        data = json.loads(path.read_text())
        data["pruning"] = {"target_speedup": speedup, "eval_metric_loss": None}
        path.write_text(json.dumps(data))
        results.append(path)
        models.append(tmp_path / f"m{speedup}")
        models[-1].mkdir()
    out = tmp_path / "out"
    outcome = sweep_select(base, results, models, out / "model", out / "result.json", out / "sweep.md")
    table = (out / "sweep.md").read_text()
    assert outcome["target_speedup"] == 2.0 and table.startswith("# Sweep of speed-up targets (3 values)")
    assert "| 2x | 50.0% | 50.0% | 2.0K | 4.90 ms (2.04x) | 0.8950 | +0.50 | pass | **yes** |" in table
    assert "Chosen: speed-up target 2x" in table


@pytest.mark.parametrize("text", ["", "2,abc", "0.5,2", "1"])
def test_sweep_speedups_are_above_one(text):
    with pytest.raises(SlimpipeError, match="sweep speed-ups"):
        parse_speedups(text)
