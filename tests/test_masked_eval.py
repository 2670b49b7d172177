"""The folded masked evaluator: batch norm folded into the convolutions by Paddle's passes, the masked network's
folded values written into the fused predictor's scope. It gives structural pruning's numbers, is the path
chosen where its proof holds, and falls back to the unfused predictor where it does not."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

from slimpipe.pruning.masked_eval import BatchNormFold, MaskedEvaluator

TINY_YOLO = {"scale": 0.25, "neck_width": 0.125}


@dataclass
class Case:
    """A model with its pruner, folded evaluator, inputs and (where it has data) its metric."""

    net: Any
    pruner: Any
    evaluator: MaskedEvaluator
    input_shapes: dict[str, list[int]]
    feeds: list[np.ndarray]
    pairs: list[tuple[str, float]]
    metric: Callable[[Any], float] | None = None


def randomize_batch_norm(model, seed: int = 0) -> None:
    """Batch norms away from their initial identity (gamma 1, beta 0, mean 0, variance 1), so a fold that
    mixes up its tensors shows."""
    import paddle

    rng = np.random.default_rng(seed)
    for layer in model.sublayers():
        if isinstance(layer, paddle.nn.BatchNorm2D):
            c = layer.weight.shape[0]
            layer.weight.set_value(rng.uniform(0.5, 1.5, c).astype(np.float32))
            layer.bias.set_value(rng.normal(0, 0.2, c).astype(np.float32))
            layer._mean.set_value(rng.normal(0, 0.5, c).astype(np.float32))
            layer._variance.set_value(rng.uniform(0.5, 2.0, c).astype(np.float32))


def spread_pairs(layers: list[str]) -> list[tuple[str, float]]:
    return [(layers[0], 0.5), (layers[len(layers) // 2], 0.3), (layers[-1], 0.7)]


def built_case(arch: str, options: dict, size: int) -> Case:
    from slimpipe.models import build_model
    from slimpipe.pruning.channels import ChannelPruner
    from slimpipe.tasks import get_task

    net = build_model(arch, 3, options)
    randomize_batch_norm(net)
    task = "detection" if arch.startswith("yolo") else "segmentation"
    shapes = get_task(task).input_shapes((size, size))
    feeds = [np.random.default_rng(0).random((2, 3, size, size), dtype=np.float32)]
    if task == "detection":
        for head in net.outputs:  # scores of 0.25 instead of the 0.01 prior: a hundred boxes per image to compare
            head.bias.set_value(np.zeros(head.bias.shape, np.float32))
        feeds += [np.full((2, 2), size, np.float32), np.ones((2, 2), np.float32)]
    pruner = ChannelPruner(net, [1, 3, size, size])
    pairs = spread_pairs(pruner.verified_layers([1, 3, size, size]))
    return Case(net, pruner, MaskedEvaluator(net, shapes, feeds, fold=True), shapes, feeds, pairs)


@pytest.fixture(scope="module")
def mobilenetv2(tiny_model, tiny_dataset) -> Case:
    from slimpipe import modeldir
    from slimpipe.evaluation import evaluate
    from slimpipe.pruning.channels import ChannelPruner
    from slimpipe.stages.common import load_split_for
    from slimpipe.tasks import get_task

    net, info = modeldir.load(tiny_model)
    task = get_task(info.task)
    val = load_split_for(info, tiny_dataset, "val")
    feeds = task.feeds(val, np.arange(len(val)))
    pruner = ChannelPruner(net, info.input_shape())
    shapes = task.input_shapes(info.input_size)
    return Case(net, pruner, MaskedEvaluator(net, shapes, feeds, fold=True), shapes, feeds,
                spread_pairs(pruner.layers), lambda forward: evaluate(forward, task, val)[task.metric_name])


@pytest.fixture(scope="module")
def unet() -> Case:
    return built_case("unet", {"width": 4}, 32)


@pytest.fixture(scope="module")
def yolov3() -> Case:
    return built_case("yolov3_mobilenet_v1", TINY_YOLO, 64)


def as_tuple(out) -> tuple[np.ndarray, ...]:
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("name", ["mobilenetv2", "unet", "yolov3"])
def test_folded_evaluation_matches_structural_pruning(name, request):
    from slimpipe.evaluation import dygraph_forward

    case: Case = request.getfixturevalue(name)
    assert case.evaluator.folded and case.evaluator.in_place
    with case.evaluator.predictor() as predictor:
        unpruned = as_tuple(predictor(case.feeds))
    for layer, ratio in case.pairs:
        with case.pruner.masked(layer, ratio) as changed, case.evaluator.predictor(changed) as predictor:
            masked = as_tuple(predictor(case.feeds))
            masked_metric = case.metric(predictor) if case.metric else None
        with case.pruner.pruned({layer: ratio}):
            pruned = as_tuple(dygraph_forward(case.net)(case.feeds))
            pruned_metric = case.metric(dygraph_forward(case.net)) if case.metric else None
        assert not all(a.shape == b.shape and np.allclose(a, b) for a, b in zip(masked, unpruned)), (layer, ratio)
        assert [a.shape for a in masked] == [b.shape for b in pruned], (layer, ratio)
        for a, b in zip(masked, pruned):
            assert a == pytest.approx(b, abs=1e-3 if name == "yolov3" else 1e-4), (layer, ratio)  # boxes in pixels
        assert masked_metric == pruned_metric, (layer, ratio)


@pytest.mark.parametrize("name", ["mobilenetv2", "unet", "yolov3"])
def test_folded_evaluation_is_paddles_own_fold_of_the_masked_model(name, request, tmp_path):
    """Bit for bit what Paddle Inference gives for the masked model exported and built with every pass."""
    from slimpipe.inference import Predictor, PredictorSettings, make_config
    from slimpipe.modeldir import export

    case: Case = request.getfixturevalue(name)
    for i, (layer, ratio) in enumerate(case.pairs):
        with case.pruner.masked(layer, ratio) as changed, case.evaluator.predictor(changed) as predictor:
            masked = as_tuple(predictor(case.feeds))
            export(case.net, tmp_path / f"m{i}", case.input_shapes)  # the net holds the masked values here
        built = Predictor(make_config(tmp_path / f"m{i}.pdmodel", tmp_path / f"m{i}.pdiparams",
                                      PredictorSettings(mkldnn=True, threads=2)))
        assert all(np.array_equal(a, b) for a, b in zip(masked, as_tuple(built(case.feeds)))), (layer, ratio)


def test_the_folded_predictor_gets_its_values_back(mobilenetv2):
    case = mobilenetv2
    with case.evaluator.predictor() as predictor:
        before = predictor(case.feeds)
    for layer, ratio in case.pairs:
        with case.pruner.masked(layer, ratio) as changed, case.evaluator.predictor(changed) as predictor:
            predictor(case.feeds)
    with case.evaluator.predictor() as predictor:
        assert np.array_equal(predictor(case.feeds), before)


def _off_by_a_little(real):
    def folded(self, value, factor):
        return {name: v + np.float32(1e-3) for name, v in real(self, value, factor).items()}
    return folded


def _forgets_the_filter(real):
    def folded(self, value, factor):  # right for the exported values, so only the perturbation proof sees it
        return {self.bias_target: real(self, value, factor)[self.bias_target]}
    return folded


@pytest.mark.parametrize("wrong", [_off_by_a_little, _forgets_the_filter])
def test_a_wrong_fold_falls_back_to_the_unfused_predictor(wrong, monkeypatch, capsys, tiny_model, tiny_dataset):
    from slimpipe import modeldir
    from slimpipe.evaluation import dygraph_forward
    from slimpipe.pruning.channels import ChannelPruner
    from slimpipe.stages.common import load_split_for
    from slimpipe.tasks import get_task

    net, info = modeldir.load(tiny_model)
    task = get_task(info.task)
    feeds = task.feeds(load_split_for(info, tiny_dataset, "val"), np.arange(8))
    pruner = ChannelPruner(net, info.input_shape())
    monkeypatch.setattr(BatchNormFold, "folded", wrong(BatchNormFold.folded))
    evaluator = MaskedEvaluator(net, task.input_shapes(info.input_size), feeds, fold=True)
    monkeypatch.undo()
    assert not evaluator.folded and evaluator.in_place
    assert "folded evaluation not proven on this model" in capsys.readouterr().err
    layer = pruner.layers[2]
    with pruner.masked(layer, 0.5) as changed, evaluator.predictor(changed) as predictor:
        masked = predictor(feeds)
    with pruner.pruned({layer: 0.5}):
        assert masked == pytest.approx(dygraph_forward(net)(feeds), abs=1e-4)


def test_the_sensitivity_file_says_the_folded_path_ran(tiny_sensitivities):
    import json

    data = json.loads(tiny_sensitivities.read_text())
    assert data["folded_evaluation"] is True and data["in_place_evaluation"] is True
