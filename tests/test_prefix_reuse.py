"""Reusing the unchanged front of the network: a cut's two halves give the whole program's numbers, the
sensitivity evaluations run on the back only where that is proven, and a cut that is not proven or does
not fit is not used."""
from __future__ import annotations

import json

import numpy as np
import pytest

from slimpipe.inference import Predictor, PredictorSettings, make_config
from slimpipe.pruning import program_cut
from slimpipe.pruning.masked_eval import WEIGHT_FOLDING_PASSES, MaskedEvaluator, same_outputs
from slimpipe.pruning.prefix_reuse import PrefixReuse
from tests.test_masked_eval import TINY_YOLO, built_case, mobilenetv2  # noqa: F401  (fixture)

SETTINGS = PredictorSettings(mkldnn=True, threads=1)


def first_readers(case) -> dict[str, int]:
    """Each prunable layer's first operator reading a masked tensor, in the whole program."""
    program = program_cut.Program(case.evaluator.program)
    out = {}
    for layer in case.pruner.layers:
        with case.pruner.masked(layer, 0.5) as changed:
            out[layer] = program.first_reader(changed)
    return out


def whole_outputs(case, changed):
    with case.evaluator.predictor(changed) as predictor:
        return predictor(case.feeds)


def test_a_cut_is_before_the_first_reader_and_not_right_after_a_convolution(mobilenetv2):
    program = program_cut.Program(mobilenetv2.evaluator.program)
    for layer, first in first_readers(mobilenetv2).items():
        cut = program.latest_cut(first)
        if cut is None:
            continue
        assert program.body[0] < cut.index <= first, layer
        assert cut.tensors and cut.tensors == program.crossing(cut.index)
        assert all(program.ops[program.producer[t]].type not in program_cut.FUSED_PRODUCERS for t in cut.tensors)


def test_the_first_layer_has_no_cut_in_front_of_it(mobilenetv2):
    program = program_cut.Program(mobilenetv2.evaluator.program)
    first = min(first_readers(mobilenetv2).values())
    assert program.latest_cut(first) is None or program.latest_cut(first).index < first
    assert program.latest_cut(program.body[0]) is None


def test_the_halves_of_a_cut_give_the_whole_programs_outputs(mobilenetv2):
    evaluator = mobilenetv2.evaluator
    program = program_cut.Program(evaluator.program)
    cut = program.latest_cut(list(first_readers(mobilenetv2).values())[-1])
    front, back = program_cut.split(program, evaluator.params, cut)
    middle = Predictor(make_config(front.program, front.params, SETTINGS))(mobilenetv2.feeds)
    middle = list(middle) if isinstance(middle, tuple) else [middle]
    got = Predictor(make_config(back.program, back.params, SETTINGS))(middle)
    whole = Predictor(make_config(evaluator.program, evaluator.params, SETTINGS))(mobilenetv2.feeds)
    assert np.array_equal(got, whole)
    assert len(front.params) + len(back.params) <= len(evaluator.params) + 1024  # each holds only what it reads
    assert len(front.params) < len(evaluator.params) and len(back.params) < len(evaluator.params)


@pytest.mark.parametrize("model", ["mobilenetv2", "unet", "yolo"])
def test_reuse_gives_the_whole_networks_outputs(model, mobilenetv2, request):
    case = mobilenetv2 if model == "mobilenetv2" else (
        built_case("unet", {"width": 4}, 32) if model == "unet" else built_case("yolov3_mobilenet_v1", TINY_YOLO, 64))
    reuse = PrefixReuse(case.evaluator, lambda: [case.feeds], case.feeds, per_layer=1000)
    for layer, ratio in case.pairs:
        with case.pruner.masked(layer, ratio) as changed:
            assert same_outputs(reuse.outputs(changed)[0], whole_outputs(case, changed)), (layer, ratio)
    assert reuse.counts.back_only >= 2 and reuse.counts.refused == 0


def test_layers_evaluated_on_the_back_match_the_whole_network_at_every_layer(mobilenetv2):
    reuse = PrefixReuse(mobilenetv2.evaluator, lambda: [mobilenetv2.feeds], mobilenetv2.feeds, per_layer=1000)
    for layer in mobilenetv2.pruner.layers:
        with mobilenetv2.pruner.masked(layer, 0.4) as changed:
            assert same_outputs(reuse.outputs(changed)[0], whole_outputs(mobilenetv2, changed)), layer
    assert reuse.counts.back_only == len(mobilenetv2.pruner.layers) - reuse.counts.whole
    assert reuse.counts.whole <= 1  # only a layer with no cut in front of it


@pytest.mark.parametrize("deleted_passes, in_place", [(WEIGHT_FOLDING_PASSES, True), ((), False)])
def test_reuse_follows_an_evaluator_without_folding(mobilenetv2, deleted_passes, in_place):
    whole = MaskedEvaluator(mobilenetv2.net, mobilenetv2.input_shapes, mobilenetv2.feeds,
                            deleted_passes=deleted_passes)
    assert not whole.folded and whole.in_place == in_place
    reuse = PrefixReuse(whole, lambda: [mobilenetv2.feeds], mobilenetv2.feeds, per_layer=1000)
    for layer, ratio in mobilenetv2.pairs:
        with mobilenetv2.pruner.masked(layer, ratio) as changed:
            got = reuse.outputs(changed)[0]
            with whole.predictor(changed) as predictor:
                assert same_outputs(got, predictor(mobilenetv2.feeds)), (layer, ratio)
    assert reuse.counts.refused == 0 and (reuse.counts.back_only >= 2) == in_place  # not tried where not in place


def test_a_cut_over_the_memory_budget_is_not_used(mobilenetv2, capsys):
    reuse = PrefixReuse(mobilenetv2.evaluator, lambda: [mobilenetv2.feeds], mobilenetv2.feeds, per_layer=1000, budget=1)
    layer, ratio = mobilenetv2.pairs[-1]
    with mobilenetv2.pruner.masked(layer, ratio) as changed:
        assert same_outputs(reuse.outputs(changed)[0], whole_outputs(mobilenetv2, changed))
    assert (reuse.counts.back_only, reuse.counts.whole, reuse.counts.refused) == (0, 1, 1)
    assert "budget" in capsys.readouterr().err


def test_halves_that_do_not_give_the_whole_networks_numbers_are_not_used(mobilenetv2, monkeypatch, capsys):
    real_split = program_cut.split

    def wrong_back(program, params, cut):  # the back loses its last stored tensor's values (zeros)
        front, back = real_split(program, params, cut)
        size = min(64, len(back.params))
        return front, program_cut.Part(back.program, back.params[:-size] + bytes(size))

    monkeypatch.setattr(program_cut, "split", wrong_back)
    reuse = PrefixReuse(mobilenetv2.evaluator, lambda: [mobilenetv2.feeds], mobilenetv2.feeds, per_layer=1000)
    layer, ratio = mobilenetv2.pairs[-1]
    with mobilenetv2.pruner.masked(layer, ratio) as changed:
        assert same_outputs(reuse.outputs(changed)[0], whole_outputs(mobilenetv2, changed))
    assert (reuse.counts.back_only, reuse.counts.refused) == (0, 1)
    assert "bit for bit" in capsys.readouterr().err


def test_a_later_layer_keeps_an_earlier_cut_when_its_back_is_already_cheap(mobilenetv2):
    readers = first_readers(mobilenetv2)
    program = program_cut.Program(mobilenetv2.evaluator.program)
    with_cut = [layer for layer, first in readers.items() if program.latest_cut(first) is not None]
    early, late = with_cut[0], with_cut[-1]
    assert program.latest_cut(readers[early]).index < program.latest_cut(readers[late]).index
    for per_layer, cuts in ((0, 1), (1000, 2)):  # no evaluations left to pay for a cut / many
        reuse = PrefixReuse(mobilenetv2.evaluator, lambda: [mobilenetv2.feeds], mobilenetv2.feeds, per_layer=per_layer)
        for layer in (early, late):
            with mobilenetv2.pruner.masked(layer, 0.5) as changed:
                assert same_outputs(reuse.outputs(changed)[0], whole_outputs(mobilenetv2, changed))
        assert reuse.counts.cuts == cuts, per_layer


def test_the_analysis_with_reuse_equals_the_analysis_without(tiny_model, tiny_dataset, tmp_path, capsys):
    from slimpipe.stages.sensitivity import sensitivity

    runs = {}
    for reuse in (True, False):
        runs[reuse] = sensitivity(tiny_model, tiny_dataset, tmp_path / f"{reuse}.json", ratios=[0.3, 0.6],
                                  reuse_prefix=reuse)
        assert ("ran only the network behind a cut" in capsys.readouterr().err) == reuse
    assert runs[True]["sensitivities"] == runs[False]["sensitivities"]
    assert json.loads((tmp_path / "True.json").read_text())["sensitivities"] == runs[False]["sensitivities"]
