"""Image classification in the PaddleX format: labels.txt and lists of `path class_index`."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from slimpipe.data import images, listfile
from slimpipe.errors import fail
from slimpipe.tasks.base import Split, Task


class ClassificationTask(Task):
    name = "classification"
    metric_name = "accuracy"
    default_arch = "mobilenetv2"

    def strata(self, split: Split) -> np.ndarray:
        return np.asarray(split.targets)

    def load_split(self, root: Path, split: str, input_size: tuple[int, int], classes: list[str]) -> Split:
        entries = listfile.read_list(root, split, n_fields=2)
        labels = np.empty(len(entries), dtype=np.int64)
        for i, entry in enumerate(entries):
            labels[i] = _class_index(entry, len(classes))
        paths = [listfile.resolve(root, e, e.fields[0]) for e in entries]
        batch = images.load_batch(paths, input_size, [e.where() for e in entries], split)
        return Split(batch, labels, [e.fields[0] for e in entries])

    def write_sample(self, out: Path, seed: int = 0) -> None:
        from slimpipe.data.digits import write_digits_sample

        write_digits_sample(out, seed=seed)

    def feeds(self, split: Split, index: np.ndarray) -> list[np.ndarray]:
        return [images.to_chw_float(split.images[index])]

    def loss(self, outputs: Any, batch: Split) -> Any:
        import paddle

        labels = paddle.to_tensor(batch.targets)
        return paddle.nn.functional.cross_entropy(outputs, labels)

    def score(self, outputs: list[np.ndarray], split: Split) -> dict[str, Any]:
        pred = np.concatenate([o.argmax(axis=1) for o in outputs])
        truth = split.targets
        n_classes = int(max(truth.max(), pred.max()) + 1)
        confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
        np.add.at(confusion, (truth, pred), 1)
        return {"accuracy": float((pred == truth).mean()), "confusion_matrix": confusion.tolist()}

    def augment(self, batch: Split, rng: np.random.Generator) -> Split:
        """Random shifts of up to an eighth of the image, padded with edge pixels."""
        n, h, w, _ = batch.images.shape
        pad = max(1, h // 8)
        padded = np.pad(batch.images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
        out = np.empty_like(batch.images)
        dy, dx = rng.integers(0, 2 * pad + 1, size=(2, n))
        for i in range(n):
            out[i] = padded[i, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        return Split(out, batch.targets, batch.sources)


def _class_index(entry: listfile.ListEntry, n_classes: int) -> int:
    raw = entry.fields[1]
    try:
        value = int(raw)
    except ValueError:
        raise fail(f"{entry.where()}: class index {raw!r} is not an integer") from None
    if not 0 <= value < n_classes:
        raise fail(f"{entry.where()}: class index {value} out of range (labels.txt has {n_classes} classes)")
    return value
