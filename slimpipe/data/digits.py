"""The bundled classification sample: scikit-learn's handwritten digits written in the PaddleX format."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from slimpipe import atomic


def write_digits_sample(out: Path, seed: int = 0, val_fraction: float = 0.2, size: int = 32) -> None:
    """1,797 real 8x8 scans, upscaled to `size` px PNGs, split per class into train and val lists."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    with atomic.output_dir(out, "sample") as tmp:
        train, val = [], []
        for cls in range(10):
            idx = np.flatnonzero(digits.target == cls)
            rng.shuffle(idx)
            n_val = int(round(len(idx) * val_fraction))
            for k, i in enumerate(idx):
                rel = f"images/{cls}/{i:04d}.png"
                pixels = (digits.images[i] * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
                img = Image.fromarray(pixels, mode="L").resize((size, size), Image.BILINEAR)
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                img.save(tmp / rel)
                (val if k < n_val else train).append(f"{rel} {cls}")
        rng.shuffle(train)
        (tmp / "labels.txt").write_text("".join(f"{c}\n" for c in range(10)))
        (tmp / "train_list.txt").write_text("\n".join(train) + "\n")
        (tmp / "val_list.txt").write_text("\n".join(sorted(val)) + "\n")
