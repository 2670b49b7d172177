"""The pipeline's pruning target, checked before any work: one target, its range, and whether a latency table is
measured."""
import json
from types import SimpleNamespace

import pytest

from slimpipe.errors import SlimpipeError
from slimpipe.pruning import latency as lat
from slimpipe.stages.targets import plan_targets


@pytest.mark.parametrize("kwargs, needs_table", [
    ({}, False),
    ({"pruned_flops": 0.5}, False),
    ({"target_speedup": 2.0}, True),
    ({"target_latency_ms": 5.0}, True),
    ({"sweep_losses": "0.02,0.05"}, False),
    ({"sweep_speedups": "1.5,2"}, True),
], ids=["loss", "flops", "speedup", "latency", "loss-sweep", "speedup-sweep"])
def test_a_latency_table_is_measured_only_for_a_latency_target(kwargs, needs_table):
    assert plan_targets(0.05, **kwargs) is needs_table


@pytest.mark.parametrize("kwargs, message", [
    ({"pruned_flops": 0.5, "target_speedup": 2.0}, "at most one of pruned_flops, target_speedup"),
    ({"target_speedup": 0.8}, "must be above 1"),
    ({"target_latency_ms": -1.0}, "must be above 0"),
    ({"sweep_losses": "0.05", "sweep_speedups": "2"}, "not both"),
    ({"sweep_speedups": "0.5"}, "sweep speed-ups"),
    ({"latency_plan": "threshold"}, "latency_plan 'threshold' applies only to a latency target"),
    ({"sweep_losses": "0.05", "latency_plan": "threshold"}, "latency_plan 'threshold' applies only to"),
    ({"max_layer_loss": 0.2}, "max_layer_loss 0.2 applies only to a latency target"),
    ({"target_speedup": 2.0, "latency_plan": "Threshold"}, "latency plan 'Threshold': choose one of knapsack"),
    ({"sweep_speedups": "2", "max_layer_loss": 1.5}, r"max_layer_loss 1.5 is outside \(0, 1\]"),
], ids=["two-targets", "speedup-below-one", "negative-latency", "two-sweeps", "bad-speedup-sweep",
        "plan-without-latency", "plan-with-loss-sweep", "cap-without-latency", "plan-unknown", "cap-above-one"])
def test_a_wrong_target_is_refused_before_any_work(kwargs, message):
    with pytest.raises(SlimpipeError, match=message):
        plan_targets(0.05, **kwargs)


def test_the_target_plan_component_answers_for_the_pipeline(monkeypatch):
    import sys

    from slimpipe.components.target_plan.component import target_plan

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # report_failures installs its own
    assert target_plan.python_func(eval_metric_loss=0.05, target_speedup=2.0) is True
    assert target_plan.python_func(eval_metric_loss=0.05) is False
    assert target_plan.python_func(eval_metric_loss=0.05, sweep_speedups="2", latency_plan="threshold") is True


def test_a_latency_target_takes_its_plan_and_cap():
    assert plan_targets(0.05, target_latency_ms=4.0, max_layer_loss=0.3, latency_plan="threshold") is True


def test_without_a_latency_target_the_step_records_that_none_was_measured(tmp_path, monkeypatch):
    import sys

    from slimpipe.components.latency_table.component import latency_table

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    out = SimpleNamespace(path=str(tmp_path / "table.json"), metadata={})
    latency_table.python_func(model=None, dataset=None, latency_table=out, measure=False)
    assert json.loads((tmp_path / "table.json").read_text())["measured"] is False
    assert lat.read_measured(tmp_path / "table.json") is None
    with pytest.raises(SlimpipeError, match="no latency table was measured here"):
        lat.read(tmp_path / "table.json")
