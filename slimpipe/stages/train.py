"""Stage 1: train a model from scratch and export it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from slimpipe import atomic, defaults, modeldir
from slimpipe.models import build_model, get_arch
from slimpipe.models.registry import resolve_options
from slimpipe.progress import log
from slimpipe.pruning.channels import model_stats
from slimpipe.stages.common import dataset_dir
from slimpipe.tasks import get_task
from slimpipe.training import TrainSettings, fit


def train(dataset: str | Path, out: str | Path, task: str = defaults.TASK, arch: str | None = None,
          epochs: int = defaults.TRAIN_EPOCHS, input_size: tuple[int, int] | None = None,
          arch_options: dict[str, Any] | None = None, batch_size: int = defaults.BATCH_SIZE,
          learning_rate: float = defaults.TRAIN_LEARNING_RATE, seed: int = defaults.SEED,
          overwrite: bool = False) -> modeldir.ModelInfo:
    """Train `arch` on `dataset`, keep the best validation epoch, write a model directory to `out`."""
    atomic.claim(out, "train", {"dataset": dataset}, overwrite)
    task_ = get_task(task)
    spec = get_arch(arch or task_.default_arch, task_.name)
    size = tuple(input_size or spec.input_size)
    options = resolve_options(spec, arch_options)  # a bad option fails before any data is read
    root = dataset_dir(dataset)
    classes = task_.read_classes(root)
    train_split = task_.load_split(root, "train", size, classes)
    val_split = task_.load_split(root, "val", size, classes)
    log("train", f"{spec.name} on {len(train_split)} train / {len(val_split)} val images at {size[0]}x{size[1]}")
    import paddle

    paddle.seed(seed)  # the initial weights too: the same seed gives the same model
    model = build_model(spec.name, len(classes), options)
    settings = TrainSettings(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed)
    info = modeldir.ModelInfo(
        task=task_.name, arch=spec.name, arch_options=options, classes=classes, input_size=list(size),
        stats=model_stats(model, [1, 3, *size]))  # counted, and exported once, before any training time
    modeldir.check_export(model, info)
    info.metrics = fit(model, task_, train_split, val_split, settings, label="train")
    info.training = settings.record(dataset)
    best = info.metrics
    modeldir.save(out, model, info, "train")
    log("train", f"best val {task_.metric_name} {best[task_.metric_name]:.4f} (epoch {best['epoch']}); "
                 f"model written to {out}")
    return info
