"""The latency table's method "plans": random whole plans, the per-layer fit, resume, shards and merge."""
import json
import math
import random

import pytest

from slimpipe.errors import SlimpipeError
from slimpipe.pruning import latency as lat
from slimpipe.stages.latency_table import latency_table, merge_latency_tables

FAST = {"plans": 6, "rounds": 1, "repeats": 1}  # the bookkeeping, not the figures
CHANNELS = {f"l{i}": 16 for i in range(8)}


def fitted_table(plans) -> lat.LatencyTable:
    table = lat.LatencyTable(
        task="classification", arch="mobilenetv2", fingerprint="0123456789abcdef",
        settings={"device": "cpu", "mkldnn": False, "threads": 1, "batch": 1, "input_size": [32, 32]},
        base_ms=0.0, base_spread_ms=0.0, ratios=list(lat.PLAN_RATIOS), saved={}, spread={},
        layers=dict(CHANNELS), all_layers=dict(CHANNELS), shard=None, complete=True, evaluations=len(plans),
        seconds=1.0, method="plans", plan_count=len(plans), plans=plans)
    lat.apply_fit(table)
    return table


def synthetic(count, seed=0, noise=0.0, compound=False):
    """Plans whose savings follow known per-layer coefficients, with overlap the fit must learn: summed, or
    (`compound`) each layer keeping a share of the latency, as layers in series whose savings compound."""
    truth = {layer: (0.02 + 0.01 * i, 0.03) for i, layer in enumerate(CHANNELS)}
    rng = random.Random(seed)
    plans = []
    for i, ratios in enumerate(lat.random_plans(CHANNELS, count, seed)):
        terms = sum(a * r + b * r * r for layer, r in ratios.items() for a, b in [truth[layer]])
        saved = -math.expm1(-2.5 * terms) if compound else terms
        plans.append({"index": i, "ratios": ratios, "saved_frac": saved + rng.gauss(0, noise),
                      "spread_frac": 0.01, "base_ms": 10.0})
    return truth, plans


def test_plans_begin_with_every_layer_at_each_uniform_ratio():
    plans = lat.random_plans(CHANNELS, 10, seed=3)
    assert plans[:len(lat.UNIFORM_RATIOS)] == [dict.fromkeys(CHANNELS, r) for r in lat.UNIFORM_RATIOS]


def test_the_same_seed_gives_the_same_plans_and_another_seed_others():
    assert lat.random_plans(CHANNELS, 30, seed=1) == lat.random_plans(CHANNELS, 30, seed=1)
    assert lat.random_plans(CHANNELS, 30, seed=1) != lat.random_plans(CHANNELS, 30, seed=2)


def test_no_plan_removes_every_channel_or_none_of_a_layer():
    narrow = {"a": 2, "b": 3, "c": 64}
    for plan in lat.random_plans(narrow, 60, seed=0):
        assert all(0 < round(narrow[layer] * r) < narrow[layer] for layer, r in plan.items())


def test_the_fit_predicts_plans_it_was_not_given():
    truth, plans = synthetic(60, noise=0.002)
    table = fitted_table(plans[:40])
    for plan in plans[40:]:
        measured = 10.0 * (1 - plan["saved_frac"])
        assert table.predicted_ms(plan["ratios"]) == pytest.approx(measured, rel=0.02)


@pytest.mark.parametrize("compound, form", [(False, "additive"), (True, "multiplicative")])
def test_the_fit_takes_the_form_with_the_least_leave_one_out_error(compound, form):
    _, plans = synthetic(60, noise=0.002, compound=compound)
    table = fitted_table(plans[:40])
    assert table.form == form and table.fit["form"] == form
    assert table.fit["loo_mean_error"] == min(table.fit["forms"].values())
    for plan in plans[40:]:
        assert table.predicted_ms(plan["ratios"]) == pytest.approx(10.0 * (1 - plan["saved_frac"]), rel=0.02)


def test_compounding_savings_are_predicted_better_by_the_multiplicative_form():
    _, plans = synthetic(50, noise=0.002, compound=True)
    forms = {form: lat.fit_plans(plans, list(CHANNELS), form=form)[1]["loo_mean_error"] for form in lat.FIT_FORMS}
    assert forms["multiplicative"] < forms["additive"] / 2


def test_a_multiplicative_tables_terms_and_savings_invert_each_other():
    _, plans = synthetic(40, compound=True)
    table = fitted_table(plans)
    assert table.form == "multiplicative"
    for saved in (0.0, 1.0, 5.0, 9.5):
        assert table.saved_of(table.terms_for(saved)) == pytest.approx(saved)
    assert table.terms_for(table.base_ms) == math.inf
    alone = table.saved_alone("l3", 0.5)
    assert 0 < alone < table.saved_at("l3", 0.5)  # one layer's share of the latency, less than its term


def test_an_unknown_fit_form_is_refused(tmp_path):
    _, plans = synthetic(40)
    lat.write(tmp_path / "t.json", fitted_table(plans))
    data = json.loads((tmp_path / "t.json").read_text())
    (tmp_path / "t.json").write_text(json.dumps(dict(data, fit=dict(data["fit"], form="cubic"))))
    with pytest.raises(SlimpipeError, match="fit form 'cubic' is not one of additive, multiplicative"):
        lat.read(tmp_path / "t.json")


def test_the_knapsack_on_a_multiplicative_table_meets_the_aim_as_the_table_predicts_it():
    from slimpipe.pruning.latency_target import Knapsack

    _, plans = synthetic(40, compound=True)
    table = fitted_table(plans)
    sens = {layer: {r: 0.01 * r * (1 + i) for r in lat.PLAN_RATIOS} for i, layer in enumerate(CHANNELS)}
    aim = 0.6 * table.base_ms
    choice = Knapsack(sens, table, 1.0, CHANNELS).choose(aim)
    assert choice.reached and choice.ratios
    assert choice.predicted_ms == pytest.approx(table.predicted_ms(choice.ratios))
    assert choice.predicted_ms <= aim * (1 + 1e-9)
    summed = sum(table.saved_at(layer, r) for layer, r in choice.ratios.items())
    assert choice.saved_ms < summed  # the terms compound: a plan saves less than they add up to


def test_the_fit_records_its_leave_one_out_error():
    _, plans = synthetic(40, noise=0.01)
    fit = fitted_table(plans).fit
    assert fit["plans"] == 40 and 0 < fit["loo_mean_error"] <= fit["loo_max_error"] < 0.2


def test_fitted_savings_never_grow_negative_or_shrink_with_the_ratio():
    _, plans = synthetic(40, noise=0.05)
    table = fitted_table(plans)
    for layer in CHANNELS:
        values = [table.saved_at(layer, r) for r in lat.PLAN_RATIOS]
        assert values[0] >= 0 and values == sorted(values)


def test_a_fitted_table_is_not_scaled_by_flops_or_by_whole_plans_again():
    _, plans = synthetic(40)
    table = fitted_table(plans)
    ratios = {"l0": 0.5, "l3": 0.2}
    summed = table.saved_at("l0", 0.5) + table.saved_at("l3", 0.2)
    assert table.predicted_ms(ratios, flops_saved=1.0) == pytest.approx(table.base_ms - table.saved_of(summed))
    assert table.calibration() == table.share_together() == 1.0


def test_a_fitted_table_round_trips_through_its_file(tmp_path):
    _, plans = synthetic(40)
    table = fitted_table(plans)
    lat.write(tmp_path / "t.json", table)
    assert lat.read(tmp_path / "t.json") == table


@pytest.mark.parametrize("change, message", [
    (lambda p: p[0]["ratios"].update(nope=0.5), r"plans\[0\]: layer 'nope' is not one of this table's layers"),
    (lambda p: p[1]["ratios"].update(l0=1.5), r"plans\[1\]: layer 'l0': ratio 1.5 is not a number in \(0, 1\)"),
    (lambda p: p[2].update(saved_frac="x"), r"plans\[2\]: saved_frac must be a number below 1"),
    (lambda p: p[3].update(index=p[2]["index"]), "plans repeat an index"),
    (lambda p: p[4].pop("base_ms"), r"plans\[4\] must hold exactly"),
])
def test_a_bad_plan_record_is_refused_naming_it(tmp_path, change, message):
    _, plans = synthetic(40)
    lat.write(tmp_path / "t.json", fitted_table(plans))
    data = json.loads((tmp_path / "t.json").read_text())
    change(data["plans"])
    (tmp_path / "t.json").write_text(json.dumps(data))
    with pytest.raises(SlimpipeError, match=message):
        lat.read(tmp_path / "t.json")


def test_an_unknown_method_is_refused(tmp_path):
    _, plans = synthetic(40)
    lat.write(tmp_path / "t.json", fitted_table(plans))
    data = json.loads((tmp_path / "t.json").read_text())
    (tmp_path / "t.json").write_text(json.dumps(dict(data, method="guess")))
    with pytest.raises(SlimpipeError, match="method 'guess' is not one of plans, layers"):
        lat.read(tmp_path / "t.json")


@pytest.fixture(scope="module")
def whole(tiny_model, tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("plans") / "table.json"
    latency_table(tiny_model, tiny_dataset, out, **FAST)
    return out


@pytest.fixture(scope="module")
def shards(tiny_model, tiny_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("plans-shards")
    paths = [root / f"s{i}.json" for i in range(2)]
    for i, path in enumerate(paths):
        latency_table(tiny_model, tiny_dataset, path, shard=(i, 2), **FAST)
    return paths


def test_the_stage_times_each_plan_and_fits_every_layer(whole):
    table = lat.read(whole)
    assert table.method == "plans" and table.complete and table.plan_count == len(table.plans) == 6
    assert [p["index"] for p in table.plans] == list(range(6)) and table.evaluations == 6
    assert table.plans[0]["ratios"] == table.every_layer(lat.UNIFORM_RATIOS[0])
    assert list(table.saved) == list(table.all_layers) and table.fit["plans"] == 6 and table.base_ms > 0


def test_resume_times_only_the_plans_not_yet_in_the_file(whole, tiny_model, tiny_dataset, tmp_path):
    data = json.loads(whole.read_text())
    kept = data["plans"][:4]
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(dict(data, plans=kept, complete=False, evaluations=4, fit={})))
    table = latency_table(tiny_model, tiny_dataset, partial, **FAST)
    assert table.complete and [p["index"] for p in table.plans] == list(range(6)) and table.evaluations == 6
    assert table.plans[:4] == kept and table.plans[4]["ratios"] == data["plans"][4]["ratios"]


def test_resume_with_other_ratios_is_refused(whole, tiny_model, tiny_dataset, tmp_path):
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(dict(json.loads(whole.read_text()), complete=False)))
    before = partial.read_bytes()
    with pytest.raises(SlimpipeError, match=r"cannot resume: its plans draw from ratios"):
        latency_table(tiny_model, tiny_dataset, partial, ratios=[0.5], **FAST)
    assert partial.read_bytes() == before


def test_each_shard_times_every_other_plan_and_fits_nothing(shards):
    first, second = (lat.read(p) for p in shards)
    assert [p["index"] for p in first.plans] == [0, 2, 4] and [p["index"] for p in second.plans] == [1, 3, 5]
    assert first.fit == {} and first.shard == [0, 2]
    with pytest.raises(SlimpipeError, match="shard 0/2 of the latency table"):
        lat.require_complete(first, shards[0])


def test_merged_shards_hold_every_plan_and_the_fit(shards, whole, tmp_path):
    merged = merge_latency_tables(list(reversed(shards)), tmp_path / "merged.json")
    assert [p["index"] for p in merged.plans] == list(range(6)) and merged.shard is None and merged.complete
    assert [p["ratios"] for p in merged.plans] == [p["ratios"] for p in lat.read(whole).plans]
    assert list(merged.saved) == list(merged.all_layers) and merged.fit["plans"] == 6
    assert lat.read(tmp_path / "merged.json") == merged


def test_merge_refuses_shards_missing_a_plan(shards, tmp_path):
    short = tmp_path / "short.json"
    data = json.loads(shards[1].read_text())
    short.write_text(json.dumps(dict(data, plans=data["plans"][:-1])))
    with pytest.raises(SlimpipeError, match="hold 5 plans, not each of the 6 planned once"):
        merge_latency_tables([shards[0], short], tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


def test_merge_refuses_shards_of_other_plans(shards, tmp_path):
    other = tmp_path / "other.json"
    other.write_text(json.dumps(dict(json.loads(shards[1].read_text()), seed=7)))
    with pytest.raises(SlimpipeError, match="its seed is 7"):
        merge_latency_tables([shards[0], other], tmp_path / "m.json")


def test_plans_are_refused_for_the_layers_method(tiny_model, tiny_dataset, tmp_path):
    with pytest.raises(SlimpipeError, match="plans is a count >= 1 for method plans"):
        latency_table(tiny_model, tiny_dataset, tmp_path / "t.json", method="layers", plans=5)
    assert not (tmp_path / "t.json").exists()
