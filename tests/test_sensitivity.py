"""Sensitivity analysis: the fast masked evaluation equals structural pruning, and runs resume."""
import json
import subprocess
import sys
import time

import numpy as np
import pytest

from slimpipe import modeldir
from slimpipe.evaluation import dygraph_forward, evaluate
from slimpipe.pruning.channels import ChannelPruner
from slimpipe.pruning.masked_eval import MaskedEvaluator
from slimpipe.stages.common import load_split_for
from slimpipe.tasks import get_task


def masked_and_structural(net, info, val, layer, ratio, **kwargs):
    """Outputs and metric of the masked evaluator, then of the structurally pruned model."""
    task = get_task(info.task)
    feeds = task.feeds(val, list(range(len(val))))
    pruner = ChannelPruner(net, info.input_shape())
    evaluator = MaskedEvaluator(net, {"image": info.input_shape()[1:]}, feeds, **kwargs)
    with pruner.masked(layer, ratio) as changed, evaluator.predictor(changed) as predictor:
        masked = (predictor(feeds), evaluate(predictor, task, val))
    pruner.prune({layer: ratio})
    return evaluator, masked, (dygraph_forward(net)(feeds), evaluate(dygraph_forward(net), task, val))


@pytest.mark.parametrize("layer_index,ratio", [(0, 0.5), (3, 0.3), (-1, 0.7)])
def test_masked_predictor_matches_structural_pruning(tiny_model, tiny_dataset, layer_index, ratio):
    net, info = modeldir.load(tiny_model)
    val = load_split_for(info, tiny_dataset, "val")
    layer = ChannelPruner(net, info.input_shape()).layers[layer_index]
    evaluator, (masked_out, masked_metric), (out, metric) = masked_and_structural(net, info, val, layer, ratio)
    assert evaluator.in_place
    assert masked_out == pytest.approx(out, abs=1e-4)
    assert masked_metric == metric


def test_a_predictor_that_folds_batch_norm_is_rebuilt_per_evaluation(tiny_model, tiny_dataset):
    net, info = modeldir.load(tiny_model)
    val = load_split_for(info, tiny_dataset, "val")
    layer = ChannelPruner(net, info.input_shape()).layers[2]
    evaluator, (masked_out, _), (out, _) = masked_and_structural(net, info, val, layer, 0.5, deleted_passes=())
    assert not evaluator.in_place
    assert masked_out == pytest.approx(out, abs=1e-4)


def test_the_shared_predictor_gets_its_parameters_back(tiny_model, tiny_dataset):
    net, info = modeldir.load(tiny_model)
    feeds = get_task(info.task).feeds(load_split_for(info, tiny_dataset, "val"), [0, 1, 2, 3])
    pruner = ChannelPruner(net, info.input_shape())
    evaluator = MaskedEvaluator(net, {"image": info.input_shape()[1:]}, feeds)
    with evaluator.predictor() as predictor:
        before = predictor(feeds)
    for layer in pruner.layers[:3]:
        with pruner.masked(layer, 0.6) as changed, evaluator.predictor(changed) as predictor:
            assert not np.allclose(predictor(feeds), before)
    with evaluator.predictor() as predictor:
        assert np.array_equal(predictor(feeds), before)


def test_masking_restores_the_model(tiny_model):
    net, info = modeldir.load(tiny_model)
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    pruner = ChannelPruner(net, info.input_shape())
    with pruner.masked(pruner.layers[2], 0.5) as changed:
        assert changed
    after = net.state_dict()
    assert all((before[k] == after[k].numpy()).all() for k in before)


def test_interrupted_run_resumes_without_repeating_work(tiny_model, tiny_dataset, tmp_path):
    out = tmp_path / "s.json"
    cmd = [sys.executable, "-m", "slimpipe", "sensitivity", "--model", str(tiny_model), "--dataset",
           str(tiny_dataset), "--ratios", "0.2,0.4,0.6", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    done_before = 0
    while time.time() < deadline and proc.poll() is None:
        if out.exists():
            done_before = json.loads(out.read_text())["evaluations"]
            if done_before >= 4:
                break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    partial = json.loads(out.read_text())
    assert not partial["complete"] and partial["evaluations"] >= 4
    assert subprocess.run(cmd, capture_output=True, timeout=300).returncode == 0
    final = json.loads(out.read_text())
    assert final["complete"]
    total = 3 * len(final["layers"])
    assert final["evaluations"] == total  # the resumed run only evaluated what was missing
    for layer, losses in partial["sensitivities"].items():
        for ratio, loss in losses.items():
            assert final["sensitivities"][layer][ratio] == loss


def test_resuming_with_other_weights_is_refused(tiny_model, tiny_dataset, tiny_sensitivities, tmp_path, capsys):
    from slimpipe.cli import main

    data = json.loads(tiny_sensitivities.read_text())
    data["baseline"] = data["baseline"] + 0.25
    data["complete"] = False
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(data))
    assert main(["sensitivity", "--model", str(tiny_model), "--dataset", str(tiny_dataset),
                 "--out", str(stale)]) == 2
    assert "measured on other weights" in capsys.readouterr().err
