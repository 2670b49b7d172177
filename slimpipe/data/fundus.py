"""The bundled segmentation sample: generated fundus-like photographs with an optic-disc region, as in the
source document's optic-disc example, in the PaddleX segmentation format."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from slimpipe.data import listfile

CLASSES = ("background", "optic_disc")


def fundus(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One image (HxWx3 uint8) and its label (HxW uint8: 0 background, 1 disc, 255 outside the eye)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    eye = (yy - 0.5) ** 2 + (xx - 0.5) ** 2 < 0.23 ** 2 * 4
    base = np.stack([0.55 + 0.15 * rng.random(), 0.22 + 0.08 * rng.random(), 0.1 + 0.05 * rng.random()])
    shade = 1.0 - 0.6 * np.sqrt((yy - 0.5) ** 2 + (xx - 0.5) ** 2)
    image = shade[..., None] * base[None, None, :]
    for _ in range(rng.integers(4, 8)):  # vessels: dark sinuous lines
        phase, freq, amp = rng.random() * 6.28, 2 + 4 * rng.random(), 0.05 + 0.1 * rng.random()
        centre = 0.2 + 0.6 * rng.random()
        line = np.abs(yy - (centre + amp * np.sin(freq * 6.28 * xx + phase))) < 0.006 + 0.006 * rng.random()
        image[line] *= 0.55
    cy, cx = 0.3 + 0.4 * rng.random(), 0.25 + 0.5 * rng.random()
    ry, rx = 0.07 + 0.05 * rng.random(), 0.06 + 0.05 * rng.random()
    disc = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1.0
    glow = np.clip(1.3 - ((yy - cy) / ry) ** 2 - ((xx - cx) / rx) ** 2, 0, 1)
    image = image + glow[..., None] * np.array([0.35, 0.45, 0.3])[None, None, :]
    image = image + rng.normal(0, 0.03, image.shape)
    image[~eye] = 0.02
    label = np.where(disc & eye, 1, 0).astype(np.uint8)
    label[~eye] = 255
    return (np.clip(image, 0, 1) * 255).astype(np.uint8), label


def write_fundus_sample(out: Path, seed: int = 0, n_train: int = 160, n_val: int = 40, size: int = 96) -> None:
    """`images/x.jpg` + `annotations/x.png` pairs and the three list files."""
    rng = np.random.default_rng(seed)

    def write_one(i: int, image_path: Path, label_path: Path) -> None:
        image, label = fundus(rng, size)
        Image.fromarray(image).save(image_path, quality=92)
        Image.fromarray(label, mode="L").save(label_path)

    listfile.write_pairs(out, CLASSES, "images/{:04d}.jpg", "annotations/{:04d}.png", n_train, n_val, write_one)
