"""Evaluate "this layer pruned at this ratio" fast: patch the zeroed weights into the exported
parameter file in memory and run an MKLDNN predictor, instead of re-exporting or running dygraph.

Zeroing a channel in every tensor of its coupled group (PaddleSlim's lazy pruning) gives the same
outputs as removing it, so the metric matches structural pruning; tests check that.
"""
from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import numpy as np

from slimpipe.inference import Predictor, PredictorSettings, make_config


def index_params(buf: bytes, shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, int]]:
    """Offsets of each tensor's float32 data in a `.pdiparams` file (save_combine order: sorted names)."""
    index, off = {}, 0
    for name in sorted(shapes):
        off += 4  # LoDTensor version
        (lod_level,) = struct.unpack_from("<Q", buf, off)
        off += 8
        for _ in range(lod_level):
            (n,) = struct.unpack_from("<Q", buf, off)
            off += 8 + n
        off += 4  # Tensor version
        (desc_size,) = struct.unpack_from("<i", buf, off)
        off += 4 + desc_size
        count = int(np.prod(shapes[name])) if shapes[name] else 1
        index[name] = (off, count)
        off += 4 * count
    if off != len(buf):
        raise RuntimeError(f"parameter file layout not understood ({off} of {len(buf)} bytes parsed)")
    return index


class MaskedEvaluator:
    """Exports the model once; `predictor(changed)` returns a predictor with some tensors replaced."""

    def __init__(self, model, input_shapes: dict[str, list[int]], threads: int = 2):
        """`input_shapes`: the exported inputs by name, shapes less the batch axis (Task.input_shapes)."""
        from slimpipe.modeldir import export

        tensors = list(model.parameters()) + list(model.buffers())
        shapes = {t.name: tuple(t.shape) for t in tensors if t.persistable}
        with tempfile.TemporaryDirectory(prefix="slimpipe-masked-") as tmp:
            export(model, f"{tmp}/model", input_shapes)
            self._program = Path(f"{tmp}/model.pdmodel").read_bytes()
            self._params = Path(f"{tmp}/model.pdiparams").read_bytes()
        self._index = index_params(self._params, shapes)
        self._settings = PredictorSettings(mkldnn=True, threads=threads)

    def predictor(self, changed: dict[str, np.ndarray] | None = None) -> Predictor:
        buf = bytearray(self._params)
        for name, value in (changed or {}).items():
            off, count = self._index[name]
            data = np.ascontiguousarray(value, dtype=np.float32).ravel()
            if data.size != count:
                raise RuntimeError(f"tensor {name}: {data.size} values, parameter file holds {count}")
            buf[off:off + 4 * count] = data.tobytes()
        return Predictor(make_config(self._program, bytes(buf), self._settings))
