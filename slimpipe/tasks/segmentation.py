"""Semantic segmentation in the PaddleX format: lines `images/x.jpg annotations/x.png`, the label PNG
holding class indices, 255 meaning "ignore"."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

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


LABEL_MODES = ("L", "P", "1")  # one class index per pixel: 8-bit grayscale, palette, or 1-bit (0 and 1)


def _load_label(path: Path, image_path: Path, size: tuple[int, int], n_classes: int,
                entry: listfile.ListEntry) -> np.ndarray:
    """The label PNG, checked against its image's size and the class count, resized (nearest) to `size`."""
    rel = entry.fields[1]
    width, height = images.image_size(image_path, entry.where())
    with images.open_image(path, entry.where(), "label") as label:
        if label.mode not in LABEL_MODES:
            raise fail(f"{entry.where()}: label {rel} is {_mode_name(label.mode)} (mode {label.mode}); a label "
                       "holds one class index per pixel, as an 8-bit grayscale or palette PNG")
        if label.size != (width, height):
            raise fail(f"{entry.where()}: label {rel} is {label.size[0]}x{label.size[1]}, "
                       f"its image is {width}x{height}")
        values = np.asarray(label).astype(np.uint8)
        resized = np.asarray(label.resize((size[1], size[0]), Image.NEAREST)).astype(np.uint8)
    bad = np.unique(values[(values != IGNORE) & (values >= n_classes)])
    if bad.size:
        raise fail(f"{entry.where()}: label {rel} holds class index {int(bad[0])}, out of range "
                   f"(labels.txt has {n_classes} classes; 255 means ignore)")
    return resized.astype(np.int64)


def _mode_name(mode: str) -> str:
    """What an image mode means, for a message about a label that is not class indices."""
    if mode in images.SIXTEEN_BIT_MODES:
        return "a 16-bit image"
    if mode in images.UNKNOWN_RANGE_MODES:
        return f"a {images.UNKNOWN_RANGE_MODES[mode]} image"
    return {"RGB": "an RGB (colour) image", "RGBA": "an RGBA (colour) image", "LA": "a grayscale image with alpha",
            "PA": "a palette image with alpha", "CMYK": "a CMYK image"}.get(mode, "not a single-channel image")
