"""The bench's longer-retraining comparison (bench/pruning.py, bench/latency_target.py): a pruned model's
ratios re-applied to the unpruned weights, and the row that judges the drop."""
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def pruned(tiny_model, tiny_dataset, tiny_sensitivities, tmp_path_factory) -> Path:
    from slimpipe.stages.prune_train import prune_train

    out = tmp_path_factory.mktemp("retraining") / "pruned"
    prune_train(tiny_model, tiny_dataset, tiny_sensitivities, out, eval_metric_loss=0.9, epochs=1)
    return out


def shapes(net) -> dict:
    return {name: tuple(p.shape) for name, p in net.state_dict().items()}


def test_pruned_like_rebuilds_the_pruned_models_architecture_from_the_unpruned_weights(tiny_model, pruned):
    from bench.pruning import pruned_like
    from slimpipe import modeldir

    net, _ = pruned_like(tiny_model, pruned)
    assert shapes(net) == shapes(modeldir.load(pruned)[0])
    assert shapes(net) != shapes(modeldir.load(tiny_model)[0])


def source(tmp_path, longer):
    from bench.latency_target import Source
    from slimpipe.demo import DEMO_SETTINGS

    return Source(tmp_path, tmp_path, tmp_path, DEMO_SETTINGS["detection"], "t", "s", None, longer)


def test_no_longer_retraining_row_unless_the_source_asks(tmp_path):
    from bench.latency_target import longer_retraining_row

    assert longer_retraining_row(source(tmp_path, 0), tmp_path, "cmd") == []


def test_the_longer_retraining_row_judges_the_drop_against_the_control_retrained_alike(tmp_path, monkeypatch):
    import bench.pruning
    from bench.latency_target import longer_retraining_row

    seen = []

    def control(model, data, kwargs):
        seen.append(("control", kwargs))
        return "map", kwargs["epochs"], 0.92

    def pruned_again(model, pruned, data, kwargs):
        seen.append(("pruned", kwargs))
        return "map", kwargs["epochs"], 0.89

    monkeypatch.setattr(bench.pruning, "retrained_unpruned", control)
    monkeypatch.setattr(bench.pruning, "retrained_pruned", pruned_again)
    [row] = longer_retraining_row(source(tmp_path, 60), tmp_path / "p", "cmd")
    assert seen[0][1] == seen[1][1] == {"epochs": 60, "batch_size": 4}
    assert "both retrained 60 epochs" in row[0]
    assert row[1] == "0.9200 -> 0.8900 (-3.00 points)"
    assert row[3] is False


def test_retrained_pruned_trains_the_pruned_architecture_with_the_epochs_asked(tiny_model, tiny_dataset, pruned,
                                                                                monkeypatch):
    import slimpipe.training
    from bench.pruning import retrained_pruned
    from slimpipe import modeldir

    trained = []
    fit = slimpipe.training.fit

    def spy(net, task, train, val, settings, label="train"):
        trained.append((shapes(net), settings.epochs))
        return fit(net, task, train, val, settings, label)

    monkeypatch.setattr(slimpipe.training, "fit", spy)
    metric, epochs, value = retrained_pruned(tiny_model, pruned, tiny_dataset, {"epochs": 1})
    assert trained == [(shapes(modeldir.load(pruned)[0]), 1)]
    assert (metric, epochs) == ("accuracy", 1) and 0.0 <= value <= 1.0


def test_pruned_like_refuses_an_unpruned_model_naming_it(tiny_model):
    from bench.pruning import pruned_like
    from slimpipe.errors import SlimpipeError

    with pytest.raises(SlimpipeError, match=f"{tiny_model}: not a pruned model"):
        pruned_like(tiny_model, tiny_model)


def test_pruned_like_refuses_a_model_pruned_from_another_architecture(tiny_model, pruned, tmp_path):
    import json
    import shutil

    from bench.pruning import pruned_like
    from slimpipe.errors import SlimpipeError

    other = tmp_path / "other"
    shutil.copytree(pruned, other)
    info = json.loads((other / "model.json").read_text())
    info["input_size"] = [s * 2 for s in info["input_size"]]
    (other / "model.json").write_text(json.dumps(info))
    with pytest.raises(SlimpipeError, match="pruned from another model than .*input_size"):
        pruned_like(tiny_model, other)
