"""A fixed, seeded, class-balanced subset of a split: the same images every run, classes as even as the
split allows, so a cheaper sensitivity analysis does not drift with luck or with class frequencies."""
from __future__ import annotations

import numpy as np

from slimpipe.errors import fail


def balanced_indices(keys: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """`size` indices taken round-robin over the classes in `keys` (each class shuffled with `seed`),
    returned sorted; classes with fewer samples give what they have."""
    if size < 1:
        raise fail(f"subset size {size}: must be at least 1")
    if size >= len(keys):
        return np.arange(len(keys))
    rng = np.random.default_rng(seed)
    pools = [list(rng.permutation(np.flatnonzero(keys == k))) for k in np.unique(keys)]
    chosen: list[int] = []
    while len(chosen) < size:
        for pool in pools:
            if pool and len(chosen) < size:
                chosen.append(int(pool.pop()))
    return np.sort(np.array(chosen))
