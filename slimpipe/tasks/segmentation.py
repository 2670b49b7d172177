"""Semantic segmentation in the PaddleX format: lines `images/x.jpg annotations/x.png`, the label PNG
holding class indices, 255 meaning "ignore"."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from slimpipe.data import images, listfile
from slimpipe.errors import fail
from slimpipe.tasks.base import Split, Task

IGNORE = 255


class SegmentationTask(Task):
    name = "segmentation"
    metric_name = "miou"
    default_arch = "unet"
    files_per_line = 2

    def load_split(self, root: Path, split: str, input_size: tuple[int, int], classes: list[str]) -> Split:
        pairs = listfile.read_pairs(root, split)
        batch = images.load_batch([p.image for p in pairs], input_size, [p.entry.where() for p in pairs], split)
        labels = np.stack([_load_label(p.label, p.image, input_size, len(classes), p.entry) for p in pairs])
        return Split(batch, labels, [p.entry.fields[0] for p in pairs])

    def strata(self, split: Split) -> np.ndarray:
        """The highest class index present in each label (background-only images form their own stratum)."""
        labels = np.where(split.targets == IGNORE, 0, split.targets)
        return labels.reshape(len(split), -1).max(axis=1)

    def write_sample(self, out: Path, seed: int = 0) -> None:
        from slimpipe.data.fundus import write_fundus_sample

        write_fundus_sample(out, seed=seed)

    def feeds(self, split: Split, index: np.ndarray) -> list[np.ndarray]:
        return [images.to_chw_float(split.images[index])]

    def loss(self, outputs: Any, batch: Split) -> Any:
        import paddle

        labels = paddle.to_tensor(batch.targets[:, None, :, :])
        return paddle.nn.functional.cross_entropy(outputs, labels, axis=1, ignore_index=IGNORE)

    def score(self, outputs: list[np.ndarray], split: Split) -> dict[str, Any]:
        """mIoU over classes present in truth or prediction, per-class IoU and pixel accuracy."""
        pred = np.concatenate([o.argmax(axis=1) for o in outputs]).ravel()
        truth = split.targets.ravel()
        keep = truth != IGNORE
        pred, truth = pred[keep], truth[keep]
        n = int(max(truth.max(initial=0), pred.max(initial=0)) + 1)
        confusion = np.bincount(truth * n + pred, minlength=n * n).reshape(n, n)
        inter = np.diag(confusion).astype(np.float64)
        union = confusion.sum(0) + confusion.sum(1) - inter
        iou = np.divide(inter, union, out=np.full(n, np.nan), where=union > 0)
        return {"miou": float(np.nanmean(iou)), "class_iou": [None if np.isnan(v) else float(v) for v in iou],
                "pixel_accuracy": float(inter.sum() / max(confusion.sum(), 1))}

    def augment(self, batch: Split, rng: np.random.Generator) -> Split:
        """Random horizontal flips of image and label together."""
        flip = rng.random(len(batch)) < 0.5
        imgs, labels = batch.images.copy(), batch.targets.copy()
        imgs[flip] = imgs[flip][:, :, ::-1]
        labels[flip] = labels[flip][:, :, ::-1]
        return Split(imgs, labels, batch.sources)


def _load_label(path: Path, image_path: Path, size: tuple[int, int], n_classes: int,
                entry: listfile.ListEntry) -> np.ndarray:
    """The label PNG, checked against its image's size and the class count, resized (nearest) to `size`."""
    try:
        with Image.open(path) as label, Image.open(image_path) as image:
            if label.size != image.size:
                raise fail(f"{entry.where()}: label {entry.fields[1]} is {label.size[0]}x{label.size[1]}, "
                           f"its image is {image.size[0]}x{image.size[1]}")
            values = np.asarray(label.convert("L") if label.mode not in ("L", "P") else label)
            resized = np.asarray(label.resize((size[1], size[0]), Image.NEAREST))
    except (UnidentifiedImageError, OSError) as exc:
        raise fail(f"{entry.where()}: cannot decode label {path}: {exc}") from None
    bad = np.unique(values[(values != IGNORE) & (values >= n_classes)])
    if bad.size:
        raise fail(f"{entry.where()}: label {entry.fields[1]} holds class index {int(bad[0])}, out of range "
                   f"(labels.txt has {n_classes} classes; 255 means ignore)")
    return resized.astype(np.int64)
