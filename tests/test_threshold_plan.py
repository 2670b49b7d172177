"""The threshold plan for a latency target (--latency-plan threshold): one sensitivity-loss threshold for every
layer, the smallest that reaches the target, on hand-made tables; the option through the checks, the command,
the component, the pipeline's parameters and the report."""
from __future__ import annotations

import math

import pytest

from slimpipe.errors import SlimpipeError
from slimpipe.pruning import rules
from slimpipe.pruning.latency_target import DEFAULT_PLAN, PLANS, Knapsack, check_plan, loss_at, reach
from tests.badinput import Case, check
from tests.test_latency_target import WIDE, Table, component_call, random_case, stub_timing, write_table


def threshold(sens, table, cap=1.0, channels=None, align=None) -> Knapsack:
    return Knapsack(sens, table, cap, channels or dict.fromkeys(sens, WIDE), align, plan="threshold")


def saving(table, ratios) -> float:
    return sum(table.saved_at(layer, r) for layer, r in ratios.items())


def ratios_at(plan: Knapsack, t: float) -> dict[str, float]:
    """The threshold plan's ratios at threshold `t`."""
    return {layer: option.ratio for layer, option in plan._at_threshold(t).items()}


@pytest.mark.parametrize("seed", range(20))
def test_a_threshold_plan_is_the_loss_rule_at_its_threshold(seed):
    sens, table = random_case(seed, quantum=0.05)
    plan = threshold(sens, table)
    choice = plan.choose(table.base_ms - 0.5 * saving(table, plan.most().ratios))
    assert choice.reached
    floored = {layer: math.floor(r * WIDE + 1e-9) / WIDE for layer, r in rules.ratios_by_loss(sens, choice.cost).items()}
    assert choice.ratios == {layer: r for layer, r in floored.items() if r > 0 and table.saved_at(layer, r) > 0}


@pytest.mark.parametrize("seed", range(20))
def test_a_threshold_plan_takes_the_least_threshold_that_reaches_the_target(seed):
    sens, table = random_case(seed, quantum=0.05)
    plan = threshold(sens, table)
    required = 0.5 * saving(table, plan.most().ratios)
    choice = plan.choose(table.base_ms - required)
    assert saving(table, choice.ratios) >= required * (1 - 1e-8)  # up to _meets's rounding
    assert choice.cost > 0 and saving(table, ratios_at(plan, choice.cost - 1e-9)) < required


def test_no_layer_of_a_threshold_plan_loses_more_than_its_threshold():
    sens = {"a": {0.2: 0.01, 0.4: 0.03, 0.6: 0.2}, "b": {0.2: 0.05, 0.4: 0.08, 0.6: 0.1},
            "c": {0.2: 0.0, 0.4: 0.01, 0.6: 0.02}}
    table = Table(20.0, {layer: {0.2: 1.0, 0.4: 2.0, 0.6: 3.0} for layer in sens})
    choice = threshold(sens, table).choose(20.0 - 7.0)
    assert choice.reached and choice.cost > 0
    assert all(loss_at(sens[layer], r) <= choice.cost + 1e-9 for layer, r in choice.ratios.items())
    assert len(choice.ratios) == 3  # every layer pruned a little, none wrecked


def test_a_threshold_plan_spreads_the_pruning_a_knapsack_puts_on_one_layer():
    """The knapsack takes the one layer with the cheapest saving deep; the threshold plan keeps every layer
    within the same loss, so no layer is pruned as deep."""
    sens = {"cheap": {0.3: 0.01, 0.6: 0.02, 0.9: 0.03}, "dear": {0.3: 0.025, 0.6: 0.05, 0.9: 0.3}}
    table = Table(10.0, {layer: {0.3: 1.0, 0.6: 2.0, 0.9: 3.0} for layer in sens})
    widths = dict.fromkeys(sens, WIDE)
    knapsack = Knapsack(sens, table, 1.0, widths).choose(10.0 - 2.8)
    spread = threshold(sens, table).choose(10.0 - 2.8)
    assert knapsack.ratios == {"cheap": 0.9}
    assert spread.ratios == pytest.approx({"cheap": 0.75, "dear": 0.3})


def test_a_threshold_plan_keeps_aligned_widths_within_the_cap():
    sens = {"a": {0.3: 0.03, 0.6: 0.09}, "b": {0.3: 0.06, 0.6: 0.2}}
    table = Table(10.0, {"a": {0.3: 1.5, 0.6: 3.0}, "b": {0.3: 2.0, 0.6: 4.5}})
    choice = threshold(sens, table, cap=0.1, channels={"a": 32, "b": 32}, align=8).choose(10.0 - 4.0)
    assert choice.reached
    for layer, ratio in choice.ratios.items():
        assert (32 - round(32 * ratio)) % 8 == 0 and loss_at(sens[layer], ratio) <= 0.1


def test_with_an_alignment_a_higher_threshold_never_prunes_less():
    """64 channels in steps of 8 and a loss past the cap at 0.6: the ratio the loss rule gives at the cap
    (0.475) would round to 32 kept channels at the nearest multiple, whose loss (0.106) is past the cap; the
    plan keeps 40 (rounding kept channels up) rather than falling back to a lighter measured ratio, and the
    saving grows with the threshold up to the cap."""
    sens = {"conv": {0.1: 0.01, 0.6: 0.13}}
    table = Table(10.0, {"conv": {0.1: 0.5, 0.6: 3.0}})
    plan = threshold(sens, table, cap=0.1, channels={"conv": 64}, align=8)
    savings = [saving(table, ratios_at(plan, t / 100)) for t in range(0, 11)]
    assert savings == sorted(savings)
    most = plan.most()
    assert most.ratios == {"conv": 24 / 64} and loss_at(sens["conv"], 24 / 64) <= 0.1
    assert saving(table, most.ratios) == max(savings)


def test_a_threshold_plan_prunes_whole_channels_so_equal_models_are_equal_ratios():
    sens = {"a": {0.5: 0.1}, "b": {0.5: 0.2}}
    table = Table(10.0, {"a": {0.5: 2.0}, "b": {0.5: 2.0}})
    plan = threshold(sens, table, channels={"a": 30, "b": 7})
    for t in (0.013, 0.05, 0.077, 0.1):
        for layer, ratio in ratios_at(plan, t).items():
            n = {"a": 30, "b": 7}[layer]
            assert ratio * n == pytest.approx(round(ratio * n)) and loss_at(sens[layer], ratio) <= t
    assert ratios_at(plan, 0.0501) == ratios_at(plan, 0.0502)  # both 7 of 30 and 1 of 7 channels


def test_a_threshold_under_the_cap_names_no_bounding_layer():
    sens = {"capped_conv": {0.3: 0.02, 0.6: 0.5}, "free_conv": {0.3: 0.01, 0.6: 0.02}}
    table = Table(10.0, {"capped_conv": {0.3: 1.0, 0.6: 4.0}, "free_conv": {0.3: 0.5, 0.6: 1.0}})
    choice = threshold(sens, table, cap=0.1).choose(10.0 - 1.0)
    assert choice.reached and choice.cost < 0.1 and choice.bounding == []


def test_a_threshold_plan_out_of_reach_names_the_layers_the_cap_bounds():
    sens = {"capped_conv": {0.3: 0.02, 0.6: 0.5}, "free_conv": {0.3: 0.01, 0.6: 0.02}}
    table = Table(10.0, {"capped_conv": {0.3: 1.0, 0.6: 4.0}, "free_conv": {0.3: 0.5, 0.6: 1.0}})

    def measure(ratios):
        raise AssertionError("nothing is measured when the tables already say the target is out of reach")

    with pytest.raises(SlimpipeError) as exc:
        reach(10.0 / 2.0, threshold(sens, table, cap=0.1).choose, measure, target_text="--target-speedup 2")
    message = str(exc.value)
    assert "--target-speedup 2 cannot be reached under --max-layer-loss 0.1" in message
    assert "capped_conv" in message and "free_conv" not in message


def test_the_loop_raises_the_threshold_until_the_target_is_met_and_keeps_the_least_that_met_it():
    """Models saving under 12 ms run 3 ms slower than the table predicts: the first choice misses, and the
    loop asks for more saving (a higher threshold) until a model meets the target."""
    sens = {f"l{i}": {r: 0.02 * (i + 1) * r for r in (0.2, 0.4, 0.6, 0.8)} for i in range(6)}
    table = Table(30.0, {layer: {r: 3.0 * r for r in (0.2, 0.4, 0.6, 0.8)} for layer in sens})

    def measure(ratios):
        saved = saving(table, ratios)
        return 30.0 - saved + (3.0 if saved < 12.0 else 0.0)

    outcome = reach(20.0, threshold(sens, table).choose, measure, confirm=False)
    first, kept = outcome.iterations[0], outcome.iterations[outcome.chosen - 1]
    assert not first["met"] and kept["met"] and outcome.measured_ms <= 20.0
    assert kept["cost"] > first["cost"]
    assert kept["cost"] == min(it["cost"] for it in outcome.iterations if it["met"])


def test_rebuilding_for_a_refit_table_keeps_the_plan():
    sens, table = random_case(0, quantum=0.05)
    assert threshold(sens, table).rebuilt().plan == "threshold"


def test_an_unknown_plan_is_refused_naming_the_choices():
    with pytest.raises(SlimpipeError, match="latency plan 'greedy': choose one of knapsack, threshold"):
        check_plan("greedy")
    assert DEFAULT_PLAN in PLANS


@pytest.mark.parametrize("kwargs, message", [
    ({"eval_metric_loss": 0.05, "latency_plan": "threshold"}, "--latency-plan applies only to"),
    ({"target_speedup": 2.0, "latency_table": "L.json", "latency_plan": "even"}, "latency plan 'even'"),
])
def test_a_latency_plan_is_checked_before_any_work(kwargs, message):
    args = {"eval_metric_loss": None, "pruned_flops": None} | kwargs
    with pytest.raises(SlimpipeError, match=message):
        rules.check_target(**args)


def prune(w, *flags):
    return ["prune-train", "--model", w.model, "--dataset", w.data, "--sensitivities", w.sens,
            "--out", w.path("p"), *flags]


CASES = [
    Case("plan-unknown", lambda w: prune(w, "--target-speedup", "2", "--latency-table", "L.json",
                                         "--latency-plan", "even"), "invalid choice: 'even'"),
    Case("plan-without-latency-target", lambda w: prune(w, "--eval-metric-loss", "0.05", "--latency-plan", "threshold"),
         "--latency-plan applies only to --target-speedup and --target-latency-ms"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_prune_train_refuses_a_bad_latency_plan(case, workspace, capsys):
    check(case, workspace, capsys)


def test_prune_train_with_the_threshold_plan_records_it_and_prunes_by_the_loss_rule(
        tiny_model, tiny_dataset, tiny_sensitivities, tmp_path, monkeypatch):
    """Timing stubbed: every pruned model meets the target at once."""
    import json

    from slimpipe.stages.prune_train import prune_train

    stub_timing(monkeypatch, 10.0, lambda n: 8.0)
    table = write_table(tiny_sensitivities, tmp_path / "L.json", base_ms=10.0, per_layer_ms=1.0)
    info = prune_train(tiny_model, tiny_dataset, tiny_sensitivities, tmp_path / "p", epochs=1,
                       latency_table=table, target_speedup=1.2, max_layer_loss=1.0, latency_plan="threshold")
    p = info.pruning
    assert p["latency_plan"] == "threshold"
    [only] = p["iterations"]
    losses = {layer: {float(r): v for r, v in row.items()}
              for layer, row in json.loads(tiny_sensitivities.read_text())["sensitivities"].items()}
    assert all(loss_at(losses[layer], r) <= only["cost"] + 1e-9 for layer, r in p["ratios"].items())


@pytest.mark.parametrize("params, expected", [
    ({"target_speedup": 2.0, "latency_plan": "threshold"}, "threshold"),
    ({"target_speedup": 2.0}, None),  # "" (kfp's unset): prune-train's default
    ({"eval_metric_loss": 0.05, "latency_plan": "threshold"}, "threshold"),  # passed on: the stage refuses it
], ids=["threshold", "default", "loss"])
def test_the_component_passes_the_plan_as_given(params, expected, monkeypatch):
    seen = component_call(params, monkeypatch)
    assert seen["latency_plan"] == expected


def test_the_component_and_the_pipeline_say_what_an_empty_plan_means():
    from slimpipe.cli.docs import args_section
    from slimpipe.components.prune_train.component import prune_train as component
    from slimpipe.pipelines.build import pipeline_func

    for function in (component.python_func, pipeline_func().pipeline_func):
        assert args_section(function.__doc__)["latency_plan"].endswith(f"empty = {DEFAULT_PLAN}.")


def test_the_pipeline_refuses_an_unknown_plan_at_parse_time(capsys):
    from slimpipe.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["run", "--dataset", "d", "--target-speedup", "2", "--latency-plan", "even"])
    assert exc.value.code == 2
    assert "'even': expected one of knapsack, threshold" in capsys.readouterr().err


def test_the_pipeline_refuses_a_plan_without_a_latency_target_before_launching(capsys):
    from slimpipe.cli import main

    assert main(["run", "--dataset", "d", "--latency-plan", "threshold"]) == 2
    assert "latency_plan 'threshold' applies only to a latency target" in capsys.readouterr().err


def test_the_benchmark_carries_the_plan_into_the_report():
    from types import SimpleNamespace

    from slimpipe.stages.benchmark import _pruning_summary
    from slimpipe.stages.report import target_text

    summary = _pruning_summary(SimpleNamespace(pruning={"target_speedup": 2.0, "latency_plan": "threshold",
                                                        "ratios": {"conv": 0.5}}))
    assert summary["latency_plan"] == "threshold"
    assert target_text(summary) == "latency target 2x faster (threshold plan)"
