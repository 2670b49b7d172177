"""A pruned model's weights.npz holds its own weights only: PaddleSlim's copies of the unpruned values
(kept so that a plan can be restored) are dropped when a model is pruned for good."""
import numpy as np
import pytest

from slimpipe.pruning.channels import BACKUP_SUFFIX


@pytest.fixture(scope="module")
def pruned(tiny_model, tiny_dataset, tiny_sensitivities, tmp_path_factory):
    from slimpipe.stages.prune_train import prune_train

    out = tmp_path_factory.mktemp("pruned-weights") / "p"
    prune_train(tiny_model, tiny_dataset, tiny_sensitivities, out, eval_metric_loss=0.9, epochs=1)
    return out


def test_a_pruned_models_weights_hold_no_copies_of_the_unpruned_values(pruned, tiny_model):
    with np.load(pruned / "weights.npz") as weights:
        assert not [name for name in weights.files if name.endswith(BACKUP_SUFFIX)]
    assert (pruned / "weights.npz").stat().st_size < (tiny_model / "weights.npz").stat().st_size


def test_a_pruned_model_loads_in_a_process_that_built_other_models_first(pruned, tiny_model):
    from slimpipe import modeldir

    modeldir.load(tiny_model)  # moves the counters that name PaddleSlim's parameters
    net, info = modeldir.load(pruned)
    assert sum(int(p.numpy().size) for p in net.parameters()) == info.stats["params"]
    assert not [name for name in net.state_dict() if name.endswith(BACKUP_SUFFIX)]


def test_a_restorable_pruning_keeps_what_restores_it(tiny_model):
    from slimpipe import modeldir
    from slimpipe.pruning.channels import ChannelPruner

    net, info = modeldir.load(tiny_model)
    pruner = ChannelPruner(net, info.input_shape(), "l1_norm")
    before = {name: value.numpy().copy() for name, value in net.state_dict().items()}
    with pruner.pruned({pruner.layers[0]: 0.5}):
        assert [name for name in net.state_dict() if name.endswith(BACKUP_SUFFIX)]
    after = net.state_dict()
    assert all(np.array_equal(before[name], after[name].numpy()) for name in before)
