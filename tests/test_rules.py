"""The ratio-from-loss rule and its variants, on hand-made sensitivities."""
import pytest

from slimpipe.errors import SlimpipeError
from slimpipe.pruning import rules

LOSSES = {0.1: 0.0, 0.2: 0.01, 0.3: 0.04, 0.4: 0.10, 0.5: 0.30}


def test_ratio_interpolates_between_the_last_ratio_within_threshold_and_the_next():
    # 0.3 costs 0.04, 0.4 costs 0.10: a 0.05 threshold lies 1/6 of the way between them
    assert rules.ratio_for_loss(LOSSES, 0.05) == pytest.approx(0.3 + 0.1 / 6)


def test_ratio_is_the_largest_measured_when_every_ratio_is_within_threshold():
    assert rules.ratio_for_loss(LOSSES, 0.5) == pytest.approx(0.5)


def test_ratio_is_zero_when_even_the_smallest_ratio_costs_too_much():
    assert rules.ratio_for_loss({0.1: 0.2, 0.2: 0.3}, 0.05) == 0.0


def test_non_monotonic_losses_take_the_largest_ratio_within_threshold():
    # as PaddleSlim: search from the largest ratio down
    assert rules.ratio_for_loss({0.1: 0.2, 0.2: 0.01, 0.3: 0.5}, 0.05) == pytest.approx(0.2 + 0.04 * 0.1 / 0.49)


def test_ratios_by_loss_leaves_out_layers_that_cannot_be_pruned():
    ratios = rules.ratios_by_loss({"a": LOSSES, "b": {0.1: 0.9}}, 0.05)
    assert set(ratios) == {"a"}


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5])
def test_eval_metric_loss_outside_open_unit_interval_is_refused(bad):
    with pytest.raises(SlimpipeError, match="outside"):
        rules.ratios_by_loss({"a": LOSSES}, bad)


def test_align_rounds_kept_channels_to_multiples():
    aligned = rules.align_ratios({"a": 0.3, "b": 0.5}, {"a": 32, "b": 20}, 8)
    # a: keeps 22.4 -> 24 of 32; b: keeps 10 -> 8 of 20
    assert aligned == {"a": pytest.approx(8 / 32), "b": pytest.approx(12 / 20)}


def test_align_never_removes_every_channel():
    aligned = rules.align_ratios({"a": 0.95}, {"a": 16}, 8)
    assert aligned == {"a": pytest.approx(0.5)}


def test_flops_target_bisects_the_threshold():
    table = {"a": LOSSES}

    def pruned_flops_of(ratios):
        return ratios.get("a", 0.0)  # pretend FLOPs fall with the ratio of layer a

    ratios, achieved, threshold = rules.ratios_for_flops(table, 0.35, pruned_flops_of)
    assert achieved == pytest.approx(0.35, abs=0.01)
    assert 0.04 < threshold < 0.10


def test_flops_target_outside_unit_interval_is_refused():
    with pytest.raises(SlimpipeError, match="pruned_flops"):
        rules.ratios_for_flops({"a": LOSSES}, 1.2, lambda r: 0.0)


@pytest.mark.parametrize("loss,flops,message", [(None, None, "exactly one"), (0.05, 0.5, "exactly one"),
                                                (None, 1.0, "pruned_flops 1.0 is outside"),
                                                (0.0, None, "eval_metric_loss 0.0 is outside")])
def test_pruning_target_is_exactly_one_value_in_range(loss, flops, message):
    with pytest.raises(SlimpipeError, match=message):
        rules.check_target(loss, flops)


@pytest.mark.parametrize("align, gpu, expected", [(None, False, None), (None, True, 8), (-1, True, 8),
                                                  (0, True, None), (16, False, 16), (4, True, 4)])
def test_align_defaults_to_8_only_when_serving_on_gpu(align, gpu, expected):
    assert rules.resolve_align(align, gpu_serving=gpu) == expected
