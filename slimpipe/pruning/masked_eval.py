"""Evaluate "this layer pruned at this ratio" fast: one MKLDNN predictor is built from the exported model;
each evaluation overwrites the masked parameters in its scope, runs a fresh clone of it (clones share the
scope; a clone that has not run yet has no oneDNN weights cached from earlier values), and writes the
originals back.

Zeroing a channel in every tensor of its coupled group (PaddleSlim's lazy pruning) gives the same
outputs as removing it, so the metric matches structural pruning; tests check that.

Building a predictor (its IR passes) costs several times one evaluation of the sample, so it is built once. The passes
that fold parameters into others (batch norm into convolution, constant folding) are left out, because
overwriting a parameter they folded away would change nothing. Before relying on it, the evaluator proves
the overwrite on the model at hand: with every parameter perturbed, the shared predictor must give the
outputs of a predictor built from the perturbed file. Where it does not, every evaluation builds its own
predictor from a patched copy of the parameter file (the slower path, same numbers).
"""
from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from slimpipe.inference import Predictor, PredictorSettings, make_config
from slimpipe.progress import log

# Passes that rewrite a parameter or fold it into another tensor (PaddlePaddle 2.6's CPU/MKLDNN lists).
WEIGHT_FOLDING_PASSES = (
    "conv_bn_fuse_pass", "depthwise_conv_bn_fuse_pass", "conv_eltwiseadd_bn_fuse_pass",
    "conv_transpose_bn_fuse_pass", "conv_transpose_eltwiseadd_bn_fuse_pass", "conv_affine_channel_mkldnn_fuse_pass",
    "constant_folding_pass",
)
FP32 = 5  # framework.proto's VarType.FP32


def index_params(program: bytes, params: bytes) -> dict[str, tuple[int, int]]:
    """Offsets and element counts of each tensor's float32 data in an exported parameter file."""
    from slimpipe import pdformat

    where = Path("exported model")
    records = pdformat.index_params(where.with_suffix(".pdiparams"),
                                    pdformat.read_program(where.with_suffix(".pdmodel"), program), io.BytesIO(params))
    if any(r.dtype != FP32 for r in records.values()):
        raise RuntimeError("parameter file layout not understood (a tensor is not float32)")
    return {name: (r.offset, r.count) for name, r in records.items()}


class MaskedEvaluator:
    """Exports the model once; `predictor(changed)` lends a predictor that runs with some tensors replaced."""

    def __init__(self, model, input_shapes: dict[str, list[int]], probe: list[np.ndarray], threads: int = 2,
                 deleted_passes: tuple[str, ...] = WEIGHT_FOLDING_PASSES):
        """`input_shapes`: the exported inputs by name, shapes less the batch axis (Task.input_shapes);
        `probe`: a small batch of real inputs (Task.feeds) on which the in-place overwrite is proven."""
        from slimpipe.modeldir import export

        tensors = list(model.parameters()) + list(model.buffers())
        self._shapes = {t.name: tuple(t.shape) for t in tensors if t.persistable}
        with tempfile.TemporaryDirectory(prefix="slimpipe-masked-") as tmp:
            export(model, f"{tmp}/model", input_shapes)
            self._program = Path(f"{tmp}/model.pdmodel").read_bytes()
            self._params = Path(f"{tmp}/model.pdiparams").read_bytes()
        self._index = index_params(self._program, self._params)
        if set(self._index) != set(self._shapes):
            raise RuntimeError("the exported parameter file does not hold the model's persistable tensors")
        self._settings = PredictorSettings(mkldnn=True, threads=threads, deleted_passes=deleted_passes)
        self._shared = self._build(self._params)
        self.in_place = self._overwrite_works(probe)
        log("sensitivity", "one predictor for every evaluation: masked parameters overwritten in place" if self.in_place
            else "this model's predictor folds parameters together: building one predictor per evaluation")

    @contextlib.contextmanager
    def predictor(self, changed: dict[str, np.ndarray] | None = None) -> Iterator[Predictor]:
        """A predictor whose parameters named in `changed` hold those values, for the `with` block."""
        if changed and not self.in_place:
            yield self._build(self._patched_file(changed))
        else:
            with self._overwritten(changed or {}) as predictor:
                yield predictor

    @contextlib.contextmanager
    def _overwritten(self, changed: dict[str, np.ndarray]) -> Iterator[Predictor]:
        self._write(changed)
        try:
            yield self._shared.clone()
        finally:
            self._write({name: self.original(name) for name in changed})

    def original(self, name: str) -> np.ndarray:
        """The exported value of parameter `name`."""
        off, count = self._index[name]
        return np.frombuffer(self._params, np.float32, count, off).reshape(self._shapes[name])

    def _build(self, params: bytes) -> Predictor:
        return Predictor(make_config(self._program, params, self._settings))

    def _checked(self, name: str, value: np.ndarray) -> np.ndarray:
        data = np.ascontiguousarray(value, dtype=np.float32)
        if data.size != self._index[name][1]:
            raise RuntimeError(f"tensor {name}: {data.size} values, parameter file holds {self._index[name][1]}")
        return data.reshape(self._shapes[name])

    def _write(self, values: dict[str, np.ndarray]) -> None:
        for name, value in values.items():
            self._shared.tensor(name).copy_from_cpu(self._checked(name, value))

    def _patched_file(self, changed: dict[str, np.ndarray]) -> bytes:
        buf = bytearray(self._params)
        for name, value in changed.items():
            off, count = self._index[name]
            buf[off:off + 4 * count] = self._checked(name, value).tobytes()
        return bytes(buf)

    def _overwrite_works(self, probe: list[np.ndarray]) -> bool:
        """Whether the shared predictor holds the exported parameters unchanged and, with every one overwritten
        (scaled by seeded factors in [0.9, 1.1]), gives the outputs of a predictor built from a file with the
        same values, then its first outputs again once they are written back (no stale cached weights)."""
        try:
            untouched = all(np.array_equal(self._shared.tensor(n).copy_to_cpu(), self.original(n))
                            for n in self._shapes)
        except Exception:  # a pass removed the variable; Paddle raises its own error types
            return False
        if not untouched:
            return False
        rng = np.random.default_rng(0)
        perturbed = {name: self.original(name) * rng.uniform(0.9, 1.1, self._shapes[name]).astype(np.float32)
                     for name in self._shapes}
        with self._overwritten({}) as plain:
            before = plain(probe)
        with self._overwritten(perturbed) as overwritten:
            got = overwritten(probe)
        with self._overwritten({}) as plain:
            after = plain(probe)
        reference = self._build(self._patched_file(perturbed))(probe)
        return _same_outputs(got, reference) and _same_outputs(after, before)


def _same_outputs(a, b) -> bool:
    """Bit for bit: the same program and kernels on the same values give the same numbers."""
    a, b = (a if isinstance(a, tuple) else (a,)), (b if isinstance(b, tuple) else (b,))
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
