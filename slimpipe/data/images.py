"""Image decoding and resizing shared by every task."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from slimpipe.errors import fail

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def load_rgb(path: Path, size: tuple[int, int], where: str) -> np.ndarray:
    """Decode an image as uint8 HxWx3 resized to `size` (height, width); `where` names the list line."""
    try:
        with Image.open(path) as img:
            img = img.convert("RGB").resize((size[1], size[0]), Image.BILINEAR)
            return np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise fail(f"{where}: cannot decode image {path}: {exc}") from None


def load_batch(paths: list[Path], size: tuple[int, int], wheres: list[str], label: str) -> np.ndarray:
    """Decode and resize many images into one uint8 NHWC array, with a progress line."""
    from slimpipe.progress import Progress

    batch = np.empty((len(paths), size[0], size[1], 3), dtype=np.uint8)
    progress = Progress(f"load {label}", len(paths), every=5.0)
    for i, (path, where) in enumerate(zip(paths, wheres)):
        batch[i] = load_rgb(path, size, where)
        progress.update()
    return batch


def to_chw_float(batch_hwc: np.ndarray) -> np.ndarray:
    """uint8 NHWC -> normalized float32 NCHW, the layout every model here takes."""
    x = batch_hwc.astype(np.float32) / 255.0
    x = (x - MEAN) / STD
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
