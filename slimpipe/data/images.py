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


def to_chw_float(batch_hwc: np.ndarray) -> np.ndarray:
    """uint8 NHWC -> normalized float32 NCHW, the layout every model here takes."""
    x = batch_hwc.astype(np.float32) / 255.0
    x = (x - MEAN) / STD
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
