"""Small helpers the stages share: loading a dataset the way a model expects it."""
from __future__ import annotations

from pathlib import Path

from slimpipe.errors import fail
from slimpipe.modeldir import ModelInfo
from slimpipe.tasks import Split, get_task


def dataset_dir(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise fail(f"{path}: dataset folder not found")
    return path


def load_split_for(info: ModelInfo, dataset: str | Path, split: str) -> Split:
    """A split resized to the model's input, with the dataset's classes checked against the model's."""
    task = get_task(info.task)
    root = dataset_dir(dataset)
    classes = task.read_classes(root)
    if classes != info.classes:
        raise fail(f"{root / 'labels.txt'}: classes {classes[:5]}... differ from the model's {info.classes[:5]}...")
    return task.load_split(root, split, tuple(info.input_size), classes)
