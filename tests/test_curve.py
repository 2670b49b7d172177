"""The loss-threshold curve on hand-made sensitivities (only the model's shapes matter)."""
import pytest

from slimpipe.analysis.curve import describe, pruning_curve
from slimpipe.models import build_model
from slimpipe.pruning.channels import ChannelPruner

SHAPE = [1, 3, 32, 32]


@pytest.fixture(scope="module")
def pruner():
    return ChannelPruner(build_model("mobilenetv2", 10, {"scale": 0.25}), SHAPE)


def graded(pruner, steepness):
    return {layer: {0.3: steepness * 0.3, 0.6: steepness * 0.6} for layer in pruner.layers}


def test_thresholds_below_every_loss_prune_nothing(pruner):
    points = pruning_curve(pruner, graded(pruner, 1.0), SHAPE, thresholds=(0.05, 0.25))
    assert points[0]["pruned_params"] == 0.0 and points[0]["layers_pruned"] == 0
    assert points[1]["pruned_params"] == 0.0


def test_the_curve_grows_with_the_threshold(pruner):
    points = pruning_curve(pruner, graded(pruner, 0.5), SHAPE, thresholds=(0.2, 0.25, 0.3))
    pruned = [p["pruned_params"] for p in points]
    assert 0.0 < pruned[0] < pruned[1] < pruned[2] < 1.0
    assert all(0.0 < p["pruned_flops"] < 1.0 for p in points)


def test_the_curve_leaves_the_model_as_it_was(pruner):
    before = [list(p.shape) for p in pruner.model.parameters()]
    pruning_curve(pruner, graded(pruner, 0.5), SHAPE, thresholds=(0.3,))
    assert [list(p.shape) for p in pruner.model.parameters()] == before


def test_description_uses_the_source_documents_sentence():
    points = [{"eval_metric_loss": 0.05, "pruned_params": 0.641, "pruned_flops": 0.5},
              {"eval_metric_loss": 0.10, "pruned_params": 0.709, "pruned_flops": 0.6}]
    lines = describe(points)
    assert lines[0].startswith("When eval_metric_loss is set to 0.05, the model is pruned by 64.1% "
                               "(35.9% of the model remains")
    assert lines[1].startswith("When eval_metric_loss is set to 0.10, the model is pruned by 70.9%")
