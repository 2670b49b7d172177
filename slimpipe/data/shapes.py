"""The bundled detection sample: generated photographs of a few object classes (disc, square, triangle)
on varied backgrounds, in the PaddleX detection (Pascal VOC) format."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from slimpipe.data import listfile
from slimpipe.data.voc import voc_xml

CLASSES = ("disc", "square", "triangle")


def background(rng: np.random.Generator, size: int) -> Image.Image:
    """A smooth two-colour gradient with noise and a few faint blobs, different every time."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = rng.random() * 6.28
    t = np.cos(angle) * xx + np.sin(angle) * yy
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    a, b = rng.random(3), rng.random(3)
    img = (a[None, None] * (1 - t[..., None]) + b[None, None] * t[..., None]) * 255
    img += rng.normal(0, 12, img.shape)
    canvas = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(rng.integers(2, 6)):
        x, y, r = rng.integers(0, size, 2).tolist() + [int(rng.integers(4, size // 4))]
        draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return canvas.filter(ImageFilter.GaussianBlur(6))  # blurred blobs: background texture, not objects


def draw_object(draw: ImageDraw.ImageDraw, name: str, box: list[float], colour: tuple[int, ...]) -> None:
    """A filled shape with a dark outline, so it stands out from any background."""
    x1, y1, x2, y2 = box
    style = {"fill": colour, "outline": (20, 20, 20), "width": 2}
    if name == "disc":
        draw.ellipse(box, **style)
    elif name == "square":
        draw.rectangle(box, **style)
    else:
        draw.polygon([((x1 + x2) / 2, y1), (x2, y2), (x1, y2)], **style)


def scene(rng: np.random.Generator, size: int) -> tuple[Image.Image, list[tuple[str, list[float]]]]:
    """One image with 1 to 3 non-overlapping objects and their boxes."""
    image = background(rng, size)
    draw = ImageDraw.Draw(image)
    objects: list[tuple[str, list[float]]] = []
    for _ in range(int(rng.integers(1, 4))):
        for _attempt in range(20):
            side = int(rng.integers(size // 5, size // 2.5))
            x1, y1 = (int(v) for v in rng.integers(0, size - side, 2))
            box = [x1, y1, x1 + side, y1 + side]
            if all(box[2] <= b[0] or b[2] <= box[0] or box[3] <= b[1] or b[3] <= box[1] for _, b in objects):
                name = CLASSES[int(rng.integers(len(CLASSES)))]
                colour = tuple(int(v) for v in rng.integers(0, 256, 3))
                draw_object(draw, name, box, colour)
                objects.append((name, [float(v) for v in box]))
                break
    return image, objects


def write_shapes_sample(out: Path, seed: int = 0, n_train: int = 240, n_val: int = 60, size: int = 128) -> None:
    """`JPEGImages/x.jpg` + `Annotations/x.xml` pairs and the three list files."""
    rng = np.random.default_rng(seed)

    def write_one(i: int, image_path: Path, label_path: Path) -> None:
        image, objects = scene(rng, size)
        image.save(image_path, quality=92)
        label_path.write_text(voc_xml(image_path.name, size, size, objects))

    listfile.write_pairs(out, CLASSES, "JPEGImages/{:04d}.jpg", "Annotations/{:04d}.xml", n_train, n_val, write_one)
