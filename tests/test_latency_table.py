"""The latency table: its record, interpolation, resume, shards and merge, refusals, CLI and component."""
import json
import math
import statistics
import time
from types import SimpleNamespace

import pytest

from slimpipe.errors import SlimpipeError
from slimpipe.pruning import latency as lat
from slimpipe.stages.latency_table import BENCHMARK_DEFAULTS, latency_table, merge_latency_tables
from tests.badinput import Case, check, make_workspace

FAST = {"ratios": [0.5], "rounds": 1, "repeats": 1, "method": "layers"}  # the bookkeeping, not the figures


@pytest.fixture(scope="module")
def whole(tiny_model, tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("latency") / "table.json"
    latency_table(tiny_model, tiny_dataset, out, **FAST)
    return out


@pytest.fixture(scope="module")
def shards(tiny_model, tiny_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("latency-shards")
    paths = [root / f"s{i}.json" for i in range(2)]
    for i, path in enumerate(paths):
        latency_table(tiny_model, tiny_dataset, path, shard=(i, 2), **FAST)
    return paths


def hand_table(**changes) -> lat.LatencyTable:
    fields = dict(task="classification", arch="mobilenetv2", fingerprint="0123456789abcdef",
                  settings={"device": "cpu", "mkldnn": False, "threads": 1, "batch": 1, "input_size": [32, 32]},
                  base_ms=10.0, base_spread_ms=0.5, ratios=[0.25, 0.5],
                  saved={"a": {0.25: 1.0, 0.5: 3.0}, "b": {0.25: -0.1, 0.5: 0.5}},
                  spread={"a": {0.25: 0.2, 0.5: 0.3}, "b": {0.25: 0.1, 0.5: 0.1}},
                  layers={"a": 8, "b": 16}, all_layers={"a": 8, "b": 16}, shard=None, complete=True,
                  evaluations=4, seconds=1.5, layer_base_ms={"a": 9.8, "b": 10.2}, base_flops=1000,
                  flops_per_channel={"a": 10.0, "b": 2.0})
    fields.update(changes)
    return lat.LatencyTable(**fields)


def edited(path, tmp_path, name="edited.json", **changes):
    data = json.loads(path.read_text())
    data.update(changes)
    out = tmp_path / name
    out.write_text(json.dumps(data))
    return out


def test_the_record_round_trips(tmp_path):
    table = hand_table()
    lat.write(tmp_path / "t.json", table)
    assert lat.read(tmp_path / "t.json") == table
    assert json.loads((tmp_path / "t.json").read_text())["saved"]["a"] == {"0.25": 1.0, "0.5": 3.0}


def test_saved_at_interpolates_between_measured_ratios():
    table = hand_table()
    assert table.saved_at("a", 0.0) == 0.0
    assert table.saved_at("a", 0.125) == pytest.approx(0.5)     # from 0 at ratio 0
    assert table.saved_at("a", 0.375) == pytest.approx(2.0)     # between 0.25 and 0.5
    assert table.saved_at("a", 0.5) == pytest.approx(3.0)
    assert table.saved_at("a", 0.75) == pytest.approx(4.5)      # past the last ratio: in proportion to it
    assert table.saved_at("absent", 0.5) == 0.0
    assert table.predicted_ms({"a": 0.375, "b": 0.5}) == pytest.approx(10.0 - 2.0 - 0.5)


def test_overlapping_flops_scale_the_summed_saving():
    table = hand_table()
    assert table.flops_saved_at("a", 0.5) == 40.0 and table.flops_saved_at("b", 0.25) == 8.0  # per channel x removed
    assert table.interaction({"a": 0.5, "b": 0.25}, flops_saved=36.0) == pytest.approx(0.75)
    assert table.predicted_ms({"a": 0.5, "b": 0.25}, flops_saved=36.0) == pytest.approx(10.0 - 0.75 * 2.9)
    assert table.interaction({"absent": 0.5}, flops_saved=5.0) == 1.0  # nothing known to scale by


def test_paired_saving_is_the_median_of_round_differences():
    assert lat.saving([10.0, 12.0, 11.0], [9.0, 10.0, 10.5]) == (1.0, pytest.approx(0.75))


class Sleeper:
    """A stand-in predictor whose run() takes `ms` milliseconds."""

    def __init__(self, ms):
        self.ms, self.runs = ms, 0

    def feed(self, arrays):
        pass

    def run(self):
        self.runs += 1
        time.sleep(self.ms / 1000.0)


def test_alternate_times_each_predictor_in_every_round():
    from slimpipe.pruning.timing import alternate

    slow, fast = Sleeper(4.0), Sleeper(1.0)
    timings = alternate([slow, fast], [], rounds=3, repeats=2, warmup=1)
    assert [len(t.samples) for t in timings] == [3, 3] and slow.runs == fast.runs == 1 + 3 * 2
    assert timings[0].median_ms > timings[1].median_ms + 2.0


class ColdAfterOthers(Sleeper):
    """A predictor whose first run after another predictor ran takes `cold_ms` (its weights out of cache)."""

    last = None

    def __init__(self, ms, cold_ms):
        super().__init__(ms)
        self.cold_ms = cold_ms

    def run(self):
        cold, ColdAfterOthers.last = ColdAfterOthers.last is not self, self
        self.runs += 1
        time.sleep((self.cold_ms if cold else self.ms) / 1000.0)


def test_settling_runs_time_each_predictor_warm():
    from slimpipe.pruning.timing import alternate

    a, b = ColdAfterOthers(1.0, 12.0), ColdAfterOthers(1.0, 12.0)
    cold = alternate([a, b], [], rounds=3, repeats=1, warmup=0)
    warm = alternate([a, b], [], rounds=3, repeats=1, warmup=0, settle=1)
    assert all(t.median_ms > 10.0 for t in cold) and all(t.median_ms < 8.0 for t in warm)
    assert a.runs == b.runs == 3 * 1 + 3 * (1 + 1)  # the settling runs run, untimed


def test_alternate_refuses_a_negative_settle():
    from slimpipe.pruning.timing import alternate

    with pytest.raises(ValueError, match="settle"):
        alternate([Sleeper(1.0)], [], rounds=1, repeats=1, settle=-1)


def test_a_table_times_every_verified_layer_on_the_benchmarks_settings(whole, tiny_model):
    from slimpipe import modeldir
    from slimpipe.pruning.channels import ChannelPruner

    net, info = modeldir.load(tiny_model)
    pruner = ChannelPruner(net, info.input_shape())
    table = lat.read(whole)
    assert list(table.saved) == pruner.verified_layers(info.input_shape()) == list(table.all_layers)
    assert all(list(v) == [0.5] for v in table.saved.values()) and table.complete and table.shard is None
    assert table.fingerprint == pruner.fingerprint() and table.base_ms > 0
    assert table.base_flops == info.stats["flops"] and set(table.flops_per_channel) == set(table.all_layers)
    assert {k: table.settings[k] for k in BENCHMARK_DEFAULTS} == BENCHMARK_DEFAULTS
    assert table.rewritten is True  # MobileNetV2's pruned programs are derived, not exported, once proven


def test_resume_continues_without_remeasuring_done_layers(whole, tiny_model, tiny_dataset, tmp_path):
    data = json.loads(whole.read_text())
    done = list(data["saved"])[:-2]
    data.update(saved={k: data["saved"][k] for k in done}, spread={k: data["spread"][k] for k in done},
                layer_base_ms={k: data["layer_base_ms"][k] for k in done}, complete=False,
                evaluations=len(done) + len(data["together"]))  # every layer at once was measured too
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(data))
    table = latency_table(tiny_model, tiny_dataset, partial, **FAST)
    assert list(table.saved) == list(data["all_layers"]) and table.complete
    assert {k: table.saved[k] for k in done} == {k: {0.5: data["saved"][k]["0.5"]} for k in done}
    assert table.evaluations == lat.read(whole).evaluations  # the kept layers' and one per remaining layer


def test_measured_together_the_table_scales_its_predictions_by_what_a_whole_plan_kept():
    # every layer at 0.5 measured 1.75 ms saved against 3.5 summed: whole plans keep half of the sum
    table = hand_table(together={0.5: 1.75}, together_spread={0.5: 0.1}, together_flops={0.5: 48.0})
    assert table.every_layer(0.5) == {"a": 0.5, "b": 0.5}
    assert table.share_together() == pytest.approx(0.5)
    assert table.predicted_ms({"a": 0.375}) == pytest.approx(10.0 - 0.5 * 2.0)
    # with FLOPs known, the share is what the FLOPs overlap (48 of 56 singles) does not explain
    flops_share = 48.0 / 56.0
    assert table.calibration() == pytest.approx(0.5 / flops_share)
    assert table.predicted_ms({"a": 0.5, "b": 0.25}, flops_saved=36.0) == pytest.approx(
        10.0 - 0.75 * 2.9 * 0.5 / flops_share)


def test_a_table_without_a_together_measurement_predicts_as_before():
    assert hand_table().calibration() == 1.0 and hand_table().share_together() == 1.0


def test_a_table_measures_every_layer_at_once_at_each_ratio(whole):
    table = lat.read(whole)
    assert set(table.together) == set(table.together_spread) == set(table.together_flops) == {0.5}
    assert 0 < table.together_flops[0.5] < table.base_flops
    assert json.loads(whole.read_text())["together"].keys() == {"0.5"}


def test_only_the_first_shard_measures_every_layer_at_once_and_the_merge_keeps_it(shards, tmp_path):
    first, second = (lat.read(p) for p in shards)
    assert set(first.together) == {0.5} and second.together == {}
    merged = merge_latency_tables(list(reversed(shards)), tmp_path / "merged.json")
    assert merged.together == first.together and merged.together_flops == first.together_flops


def test_a_negative_together_spread_is_refused(tmp_path):
    table = hand_table(together={0.5: 1.0}, together_spread={0.5: -1.0}, together_flops={0.5: 4.0})
    path = tmp_path / "t.json"
    path.write_text(json.dumps(table.to_json()))
    with pytest.raises(SlimpipeError, match="together_spread must not be negative"):
        lat.read(path)


def test_merged_shards_hold_the_unsharded_tables_layers(whole, shards, tmp_path):
    merged = merge_latency_tables(shards, tmp_path / "merged.json")
    one = lat.read(whole)
    assert list(merged.saved) == list(one.saved) and merged.layers == one.layers == merged.all_layers
    assert merged.complete and merged.shard is None and merged.evaluations == one.evaluations
    assert lat.read(tmp_path / "merged.json") == merged
    assert merged.base_ms == statistics.median(merged.layer_base_ms.values())  # over both shards' layers


def test_a_shard_holds_every_other_layer(shards, whole):
    every = list(lat.read(whole).all_layers)
    assert [list(lat.read(p).saved) for p in shards] == [every[0::2], every[1::2]]


@pytest.mark.parametrize("pick", [[0], [0, 0]])
def test_merge_refuses_a_missing_or_repeated_shard(shards, tmp_path, pick):
    with pytest.raises(SlimpipeError, match=r"need each of 0..1 exactly once"):
        merge_latency_tables([shards[i] for i in pick], tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("change, message", [
    ({"settings": {"device": "cpu", "mkldnn": True, "threads": 1, "batch": 1, "input_size": [32, 32]}},
     "its settings is"),
    ({"rounds": 7}, "its rounds is"),
    ({"settle": 0}, "its settle is"),
    ({"fingerprint": "0" * 16}, "its fingerprint is"),
])
def test_merge_refuses_shards_of_another_measurement(shards, tmp_path, change, message):
    with pytest.raises(SlimpipeError, match=message):
        merge_latency_tables([shards[0], edited(shards[1], tmp_path, **change)], tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


def test_a_table_of_another_model_is_refused(whole, tmp_path):
    table = lat.read(whole)
    with pytest.raises(SlimpipeError, match="measured for another model"):
        lat.check_matches(table, whole, table.arch, "f" * 16, list(table.all_layers))
    with pytest.raises(SlimpipeError, match="is not a prunable layer of this model"):
        lat.check_matches(table, whole, table.arch, table.fingerprint, list(table.all_layers)[1:])


def test_a_table_records_its_settling_runs_and_defaults_to_one(whole):
    assert lat.DEFAULT_SETTLE == 1 and lat.read(whole).settle == lat.DEFAULT_SETTLE


def test_a_table_written_before_settling_reads_as_timed_cold(whole, tmp_path):
    data = json.loads(whole.read_text())
    del data["settle"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert lat.read(tmp_path / "old.json").settle == 0


def test_a_bad_settle_in_a_file_is_refused_naming_it(whole, tmp_path):
    with pytest.raises(SlimpipeError, match=r"settle and evaluations must be whole numbers .*'1'"):
        lat.read(edited(whole, tmp_path, settle="1"))


def test_resuming_with_other_settling_runs_is_refused(whole, tiny_model, tiny_dataset, tmp_path):
    partial = edited(whole, tmp_path, complete=False)
    before = partial.read_bytes()
    with pytest.raises(SlimpipeError, match=r"cannot resume: its settle is 1"):
        latency_table(tiny_model, tiny_dataset, partial, settle=0, **FAST)
    assert partial.read_bytes() == before


def test_a_negative_settle_is_refused_before_timing(tiny_model, tiny_dataset, tmp_path):
    with pytest.raises(SlimpipeError, match="settle -1: must be 0 or more"):
        latency_table(tiny_model, tiny_dataset, tmp_path / "t.json", settle=-1, **FAST)
    assert not (tmp_path / "t.json").exists()


def test_resuming_a_table_of_another_model_is_refused(whole, tiny_model, tiny_dataset, tmp_path):
    other = edited(whole, tmp_path, fingerprint="f" * 16, complete=False)
    before = other.read_bytes()
    with pytest.raises(SlimpipeError, match=r"cannot resume: its fingerprint is 'ffff"):
        latency_table(tiny_model, tiny_dataset, other, **FAST)
    assert other.read_bytes() == before


SENSITIVITIES = {"format": "slimpipe.sensitivities/1", "sensitivities": {}}


def test_a_file_of_another_format_is_refused(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps(SENSITIVITIES))
    with pytest.raises(SlimpipeError, match=r"not a slimpipe latency table \(format 'slimpipe.sensitivities/1'"):
        lat.read(tmp_path / "s.json")


def test_nan_values_are_refused_naming_layer_and_ratio(tmp_path):
    lat.write(tmp_path / "t.json", hand_table())
    path = tmp_path / "t.json"
    path.write_text(path.read_text().replace('"0.5": 3.0', '"0.5": NaN', 1))
    with pytest.raises(SlimpipeError, match=r"saved: layer 'a' at ratio 0.5: nan is not a finite number"):
        lat.read(path)
    with pytest.raises(SlimpipeError, match="base_ms nan"):
        lat.write(tmp_path / "u.json", hand_table(base_ms=math.nan))


def test_a_shard_or_an_incomplete_table_is_not_for_use(tmp_path):
    with pytest.raises(SlimpipeError, match="shard 1/2 of the latency table; join the shards"):
        lat.require_complete(hand_table(shard=[1, 2]), tmp_path / "t.json")
    with pytest.raises(SlimpipeError, match="latency table is incomplete"):
        lat.require_complete(hand_table(complete=False), tmp_path / "t.json")


@pytest.fixture
def ws(tmp_path, tiny_dataset, tiny_model):
    """A workspace (tests/badinput.py) whose sens.json is a sensitivities file: not a latency table."""
    root = tmp_path / "ws"
    root.mkdir()
    (tmp_path / "sens.json").write_text(json.dumps(SENSITIVITIES))
    return make_workspace(root, tiny_dataset, tiny_model, tmp_path / "sens.json")


def _stage(w, *extra):
    return ["latency-table", "--model", w.model, "--dataset", w.data, "--out", w.path("l.json"), *extra]


CLI_CASES = [
    Case("ratios-outside", lambda w: _stage(w, "--ratios", "0.5,1.5"), "--ratios '0.5,1.5': every ratio must be in"),
    Case("shard-out-of-range", lambda w: _stage(w, "--shard", "2/2"), "shard 2/2: expected i/n"),
    Case("zero-rounds", lambda w: _stage(w, "--rounds", "0"), "--rounds: 0: must be at least 1"),
    Case("negative-settle", lambda w: _stage(w, "--settle", "-1"), "--settle: -1: must be at least 0"),
    Case("mkldnn-maybe", lambda w: _stage(w, "--mkldnn", "maybe"), "'maybe': expected on or off"),
    Case("method-unknown", lambda w: _stage(w, "--method", "guess"), "invalid choice: 'guess'"),
    Case("zero-plans", lambda w: _stage(w, "--plans", "0"), "--plans: 0: must be at least 1"),
    Case("negative-seed", lambda w: _stage(w, "--seed", "-1"), "--seed: -1: must be at least 0"),
    Case("empty-ratios", lambda w: _stage(w, "--ratios", ""), "--ratios '': every ratio must be in (0, 1)"),
    Case("plans-for-layers", lambda w: _stage(w, "--method", "layers", "--plans", "5"),
         "plans is a count >= 1 for method plans"),
    Case("out-is-sensitivities", lambda w: ["latency-table", "--model", w.model, "--dataset", w.data, "--out", w.sens],
         "exists and is not an earlier output of latency-table"),
    Case("merge-a-sensitivities-file", lambda w: ["merge-latency-tables", w.sens, "--out", w.path("m.json")],
         "not a slimpipe latency table (format 'slimpipe.sensitivities/1'"),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c.id)
def test_cli_bad_input(case, ws, capsys):
    check(case, ws, capsys)


class FakeArtifact(SimpleNamespace):
    def __init__(self, path):
        super().__init__(path=str(path), metadata={})


def test_the_component_writes_the_table_and_its_metadata(tiny_model, tiny_dataset, tmp_path):
    from slimpipe.components.latency_table.component import latency_table as component

    out = FakeArtifact(tmp_path / "table.json")
    component.python_func(model=FakeArtifact(tiny_model), dataset=FakeArtifact(tiny_dataset), latency_table=out,
                          ratios="0.5", shard="3/8", rounds=1, repeats=1)
    table = lat.read(out.path)
    assert table.shard == [3, 8] and table.complete and table.settings["threads"] == BENCHMARK_DEFAULTS["threads"]
    assert out.metadata["layers"] == len(table.saved) and out.metadata["base_ms"] == table.base_ms
    assert table.settle == lat.DEFAULT_SETTLE  # -1: the stage's


def test_the_component_refuses_a_settle_below_its_sentinel(tiny_model, tiny_dataset, tmp_path):
    from slimpipe.components.latency_table.component import latency_table as component

    out = FakeArtifact(tmp_path / "table.json")
    with pytest.raises(SlimpipeError, match="settle -5: must be 0 or more"):
        component.python_func(model=FakeArtifact(tiny_model), dataset=FakeArtifact(tiny_dataset), latency_table=out,
                              ratios="0.5", rounds=1, repeats=1, settle=-5)
    assert not (tmp_path / "table.json").exists()


def test_the_component_passes_settle_zero(tiny_model, tiny_dataset, tmp_path):
    from slimpipe.components.latency_table.component import latency_table as component

    out = FakeArtifact(tmp_path / "table.json")
    component.python_func(model=FakeArtifact(tiny_model), dataset=FakeArtifact(tiny_dataset), latency_table=out,
                          ratios="0.5", shard="3/8", rounds=1, repeats=1, settle=0)
    assert lat.read(out.path).settle == 0


def test_visualize_draws_latency_saved_against_loss_per_layer(whole, tiny_model, tiny_sensitivities, tmp_path):
    from slimpipe.pruning import sensitivity as sens
    from slimpipe.stages.visualize import latency_curves, visualize

    visualize(tiny_model, tiny_sensitivities, tmp_path / "vis", latency_table=whole)
    assert (tmp_path / "vis/latency.png").read_bytes()[:4] == b"\x89PNG"
    table, losses = lat.read(whole), sens.read(tiny_sensitivities)["table"]
    curves = latency_curves(table, losses)
    layer = next(iter(curves))
    ratio, saved, loss = curves[layer][0]
    assert saved == table.saved_alone(layer, ratio) and loss is not None


def test_visualize_skips_the_latency_plot_for_a_table_that_was_not_measured(tiny_model, tiny_sensitivities, tmp_path):
    from slimpipe.stages.visualize import visualize

    lat.write_not_measured(tmp_path / "none.json", "the run has no latency target")
    visualize(tiny_model, tiny_sensitivities, tmp_path / "vis", latency_table=tmp_path / "none.json")
    assert (tmp_path / "vis/sensitivities.png").exists() and not (tmp_path / "vis/latency.png").exists()
