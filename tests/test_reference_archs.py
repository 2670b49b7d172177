"""Each task's reference architecture at its reference input size trains, counts its FLOPs and exports.

YOLOv3-MobileNetV1 at 608x608 once trained for ten minutes and then failed in `model_stats`: PaddleSlim
traces a model given an input shape by embedding a tensor of ones with `assign`, which refuses more than
about a million values. The count here traces with a placeholder instead, and must equal PaddleSlim's.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from slimpipe import modeldir
from slimpipe.models import build_model, get_arch
from slimpipe.pruning.channels import ChannelPruner, model_stats
from slimpipe.tasks import get_task

REFERENCE = [("classification", "mobilenetv2", 224), ("segmentation", "unet", 96),
             ("detection", "yolov3_mobilenet_v1", 608)]


def paddleslim_flops(model, shape: list[int]) -> int:
    from paddleslim.analysis import flops

    return int(flops(model, shape))


def one_image_each(root: Path) -> Path:
    """Keep the first line of each list: one training batch of one image, one val image."""
    for name in ("train_list.txt", "val_list.txt"):
        first = (root / name).read_text().splitlines()[0]
        (root / name).write_text(first + "\n")
    return root


@pytest.fixture
def reference_dataset(tmp_path, digits_full):
    def make(task: str) -> Path:
        root = tmp_path / "data"
        if task == "classification":
            shutil.copytree(digits_full, root)
        else:
            get_task(task).write_sample(root)
        return one_image_each(root)
    return make


@pytest.mark.slow
@pytest.mark.parametrize("task,arch,size", REFERENCE, ids=[r[1] for r in REFERENCE])
def test_reference_architecture_trains_counts_and_exports(task, arch, size, reference_dataset, tmp_path):
    spec = get_arch(arch, task)
    assert spec.name == get_task(task).default_arch and tuple(spec.input_size) == (size, size)
    from slimpipe.stages.train import train

    info = train(reference_dataset(task), tmp_path / "model", task=task, epochs=1, batch_size=1)
    saved = modeldir.read_info(tmp_path / "model")
    assert saved.input_size == [size, size] and saved.arch_options == spec.options
    assert len(saved.training["history"]) == 1  # one epoch of one batch, trained
    assert saved.stats["flops"] == info.stats["flops"] > 0
    program, params = modeldir.inference_paths(tmp_path / "model")  # checked against each other
    assert params.stat().st_size == saved.stats["param_file_bytes"]


@pytest.mark.parametrize("arch,size", [("mobilenetv2", 64), ("unet", 64), ("fast_scnn", 64),
                                       ("yolov3_mobilenet_v1", 320)])
def test_flops_equal_paddleslims_count_where_it_can_count(arch, size):
    options = {"width": 16} if arch == "unet" else {"scale": 0.5}
    model = build_model(arch, 3, options)
    shape = [1, 3, size, size]
    assert model_stats(model, shape)["flops"] == paddleslim_flops(model, shape)


def test_flops_of_a_608_detector_scale_from_paddleslims_count_at_416():
    """PaddleSlim refuses 608x608; every YOLOv3 feature map scales by 19/13 per side from 416 (both are
    multiples of the largest stride, 32) and it holds only convolutions, so its FLOPs scale by (19/13)^2."""
    model = build_model("yolov3_mobilenet_v1", 3)
    with pytest.raises(ValueError, match="too big"):
        paddleslim_flops(model, [1, 3, 608, 608])
    at_416 = paddleslim_flops(model, [1, 3, 416, 416])
    assert model_stats(model, [1, 3, 416, 416])["flops"] == at_416
    assert model_stats(model, [1, 3, 608, 608])["flops"] * 13 ** 2 == at_416 * 19 ** 2


def test_channel_pruner_traces_a_608_detector():
    model = build_model("yolov3_mobilenet_v1", 3)
    pruner = ChannelPruner(model, [1, 3, 608, 608])
    assert pruner.layers and all(layer.startswith("neck.blocks.") for layer in pruner.layers)


def broken_export(*args, **kwargs):
    raise RuntimeError("export broken")


def test_train_tries_the_export_before_its_first_epoch(tiny_dataset, tmp_path, monkeypatch):
    from slimpipe.errors import SlimpipeError
    from slimpipe.stages import train as stage

    monkeypatch.setattr(modeldir, "export", broken_export)
    monkeypatch.setattr(stage, "fit", lambda *args, **kwargs: pytest.fail("training started"))
    with pytest.raises(SlimpipeError, match=r"cannot be exported \(export broken\)"):
        stage.train(tiny_dataset, tmp_path / "m", epochs=1, input_size=(32, 32), arch_options={"scale": 0.25})
    assert not (tmp_path / "m").exists()


def test_prune_train_tries_the_export_before_its_first_epoch(tiny_model, tiny_dataset, tiny_sensitivities,
                                                             tmp_path, monkeypatch):
    from slimpipe.errors import SlimpipeError
    from slimpipe.stages import prune_train as stage

    monkeypatch.setattr(modeldir, "export", broken_export)
    monkeypatch.setattr(stage, "fit", lambda *args, **kwargs: pytest.fail("training started"))
    with pytest.raises(SlimpipeError, match=r"cannot be exported \(export broken\)"):
        stage.prune_train(tiny_model, tiny_dataset, tiny_sensitivities, tmp_path / "p", eval_metric_loss=0.1,
                          epochs=1)
    assert not (tmp_path / "p").exists()
