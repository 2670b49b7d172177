"""Image decoding and resizing shared by every task.

Every image and label file is opened through `open_image`, which refuses, from the header alone, an image
of more than MAX_PIXELS pixels (a decompression bomb: a small file claiming a huge size) and turns what
Pillow raises into an error naming the list line. 16-bit images are converted to 8 bits over their full
range (the high byte, as Pillow reduces 48-bit RGB), never clipped at 255; 32-bit integer and float images,
whose range is unknown, are refused."""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from slimpipe.errors import fail

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
MAX_PIXELS = Image.MAX_IMAGE_PIXELS  # Pillow's own decompression-bomb threshold, about 89 megapixels
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
UNKNOWN_RANGE_MODES = {"I": "32-bit integer", "I;32": "32-bit integer", "F": "32-bit float"}


@contextlib.contextmanager
def open_image(path: Path, where: str, what: str = "image") -> Iterator[Image.Image]:
    """`path` opened lazily (header read, pixels not yet decoded), with at most MAX_PIXELS pixels; errors
    while opening or decoding inside the block name `where` and the file. `what` says which file it is."""
    too_large = f"{where}: {what} {path} claims more than {MAX_PIXELS} pixels, the limit (a decompression bomb?)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # Pillow's own check, at its limit
            with Image.open(path) as img:
                if img.width * img.height > MAX_PIXELS:  # ours, should Pillow's limit have been lifted
                    raise fail(too_large)
                yield img
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise fail(too_large) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise fail(f"{where}: cannot decode {what} {path}: {exc}") from None


def image_size(path: Path, where: str) -> tuple[int, int]:
    """(width, height) from the image's header."""
    with open_image(path, where) as img:
        return img.size


def as_rgb(img: Image.Image, path: Path, where: str) -> Image.Image:
    """`img` as 8-bit RGB: 16-bit values scaled to 8 bits, never clipped; unknown ranges refused."""
    if img.mode in SIXTEEN_BIT_MODES:
        high_byte = (np.asarray(img, dtype=np.uint16) >> 8).astype(np.uint8)
        return Image.fromarray(high_byte, mode="L").convert("RGB")
    if img.mode in UNKNOWN_RANGE_MODES:
        raise fail(f"{where}: image {path} is a {UNKNOWN_RANGE_MODES[img.mode]} image (mode {img.mode}), whose "
                   "value range is unknown; save it as 8-bit or 16-bit")
    return img.convert("RGB")


def load_rgb(path: Path, size: tuple[int, int], where: str) -> np.ndarray:
    """Decode an image as uint8 HxWx3 resized to `size` (height, width); `where` names the list line."""
    with open_image(path, where) as img:
        rgb = as_rgb(img, path, where).resize((size[1], size[0]), Image.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8)


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
