"""What `slimpipe serve` serves, without kserve: the model's files found by KServe's paddle-runtime rules,
its inputs and outputs read from the program, a pool of Paddle Inference predictors, and the checks a
request's tensors must pass before Paddle sees them.

KServe's paddle runtime (kserve/python/paddleserver) loads the folder its storageUri names: exactly one
`*.pdmodel` and one `*.pdiparams` in that folder (not below it). `slimpipe serve` applies the same rule, and
also accepts a slimpipe model directory, whose `inference/` folder holds the two files.
"""
from __future__ import annotations

import contextlib
import queue
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from slimpipe.errors import fail
from slimpipe.inference import Predictor, PredictorSettings

# framework.proto's VarType.Type numbers -> (the Open Inference Protocol's tensor data type, numpy's).
DATATYPES = {0: ("BOOL", "bool"), 1: ("INT16", "int16"), 2: ("INT32", "int32"), 3: ("INT64", "int64"),
             4: ("FP16", "float16"), 5: ("FP32", "float32"), 6: ("FP64", "float64"), 20: ("UINT8", "uint8"),
             21: ("INT8", "int8")}
NUMPY_TYPES = dict(DATATYPES.values())


class BadRequest(ValueError):
    """A request whose tensors the model cannot take; the server answers 400 with this message."""


def model_files(folder: str | Path) -> tuple[Path, Path]:
    """(program, parameters) of the model in `folder` by KServe's paddle-runtime rule: exactly one `*.pdmodel`
    and exactly one `*.pdiparams` directly in it; a slimpipe model directory's `inference/` folder when the
    folder itself holds no `.pdmodel`. Errors name the folder and what was found."""
    folder = Path(folder)
    if not folder.is_dir():
        raise fail(f"{folder}: not a folder (expected a folder with one .pdmodel and one .pdiparams file, or a "
                   f"slimpipe model directory)")
    if not _listed(folder, ".pdmodel") and (folder / "inference").is_dir():
        folder = folder / "inference"
    program, params = (_exactly_one(folder, ext) for ext in (".pdmodel", ".pdiparams"))
    return program, params


def _listed(folder: Path, ext: str) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(ext) and p.is_file())


def _exactly_one(folder: Path, ext: str) -> Path:
    found = _listed(folder, ext)
    if len(found) != 1:
        names = ", ".join(p.name for p in found[:5]) if found else "none"
        raise fail(f"{folder}: expected exactly one *{ext} file (KServe's paddle runtime rule), found "
                   f"{len(found)}: {names}")
    return found[0]


@contextlib.contextmanager
def fetched(source: str, download_dir: str | Path | None = None) -> Iterator[Path]:
    """The local folder of `source`: itself when local; an object-store URI (s3://bucket/prefix) downloaded
    into `download_dir`/model (claimed as `serve`'s output) or into a private temporary folder removed at the
    end of the block."""
    from slimpipe import atomic, storage

    if not storage.is_remote(source):
        if download_dir is not None:
            raise fail(f"--download-dir {download_dir}: only for a model in object storage (s3://...), "
                       f"{source} is a local folder")
        yield Path(source)
        return
    loc = storage.parse_uri(source)
    if download_dir is not None:
        atomic.claim(download_dir, "serve", {"model": source})
    store = storage.ObjectStore.from_env()
    with contextlib.ExitStack() as stack:
        if download_dir is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="slimpipe-serve-")))
            storage.download_prefix(store, loc, root / "model")
        else:
            with atomic.output_dir(download_dir, "serve") as tmp:
                storage.download_prefix(store, loc, tmp / "model")
            root = Path(download_dir)
        yield root / "model"


@dataclass(frozen=True)
class TensorSpec:
    """One input or output as the v2 metadata shows it; -1 marks a dimension of any size."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def metadata(self) -> dict:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}

    def numpy_dtype(self) -> np.dtype:
        return np.dtype(NUMPY_TYPES[self.datatype])


@dataclass(frozen=True)
class Signature:
    """A program's inputs and outputs in feed and fetch order."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @classmethod
    def read(cls, program: Path) -> "Signature":
        """From the program's feed and fetch operators and the variables they name."""
        from paddle.base.proto import framework_pb2

        desc = framework_pb2.ProgramDesc()
        desc.ParseFromString(Path(program).read_bytes())  # already checked by pdformat when the predictor opened
        block = desc.blocks[0]
        variables = {v.name: v for v in block.vars}

        def ends(op_type: str, slot: str) -> tuple[TensorSpec, ...]:
            found = []
            for op in block.ops:
                if op.type != op_type:
                    continue
                col = next((a.i for a in op.attrs if a.name == "col"), 0)
                names = [arg for var in (op.outputs if slot == "Out" else op.inputs) if var.parameter == slot
                         for arg in var.arguments]
                for name in names:
                    tensor = variables[name].type.lod_tensor.tensor
                    datatype = DATATYPES.get(tensor.data_type, (None,))[0]
                    if datatype is None:
                        raise fail(f"{program}: {name!r} has a data type ({tensor.data_type}) that the Open "
                                   f"Inference Protocol cannot carry")
                    found.append((col, TensorSpec(name, datatype, tuple(int(d) for d in tensor.dims))))
            return tuple(spec for _, spec in sorted(found, key=lambda item: item[0]))

        return cls(ends("feed", "Out"), ends("fetch", "X"))

    def arrays(self, given: dict[str, tuple[str, list[int], object]]) -> list[np.ndarray]:
        """The model's inputs in feed order from a request's tensors ({name: (datatype, shape, decode)}, where
        `decode()` returns the data as an array of that shape); BadRequest says what does not fit."""
        expected = [spec.name for spec in self.inputs]
        unknown = sorted(set(given) - set(expected))
        missing = [name for name in expected if name not in given]
        if unknown or missing:
            what = "; ".join(part for part in (f"unknown input(s) {unknown}" if unknown else "",
                                               f"missing input(s) {missing}" if missing else "") if part)
            raise BadRequest(f"{what}: the model takes {expected}")
        arrays, batch = [], None
        for spec in self.inputs:
            datatype, shape, decode = given[spec.name]
            if datatype != spec.datatype:
                raise BadRequest(f"input {spec.name!r}: datatype {datatype}, the model takes {spec.datatype}")
            if len(shape) != len(spec.shape) or any(s >= 0 and g != s for g, s in zip(shape, spec.shape)):
                raise BadRequest(f"input {spec.name!r}: shape {list(shape)}, the model takes {list(spec.shape)} "
                                 f"(-1: any size)")
            if any(g < 1 for g in shape):
                raise BadRequest(f"input {spec.name!r}: shape {list(shape)} has an empty dimension")
            if spec.shape and spec.shape[0] < 0:
                if batch is not None and shape[0] != batch:
                    raise BadRequest(f"input {spec.name!r}: batch of {shape[0]}, the other inputs have {batch}")
                batch = shape[0]
            try:
                array = np.asarray(decode())
            except (ValueError, TypeError, OverflowError) as exc:
                raise BadRequest(f"input {spec.name!r}: its data does not fit shape {list(shape)} as "
                                 f"{datatype} ({str(exc)[:200]})") from None
            if list(array.shape) != list(shape):
                raise BadRequest(f"input {spec.name!r}: data of shape {list(array.shape)}, declared {list(shape)}")
            arrays.append(np.ascontiguousarray(array, dtype=spec.numpy_dtype()))
        return arrays


class PredictorPool:
    """`size` predictors on one loaded model (the first and its clones: they share the optimized program and
    the weights, each with its own run state) for `size` threads: a thread takes a free predictor on its first
    call and keeps it, so no predictor is ever run by two threads, nor moved between threads (oneDNN keeps
    per-thread state). More threads than predictors wait for one that never comes free: the server's
    inference pool has exactly `size` threads."""

    def __init__(self, first: Predictor, size: int = 1):
        if size < 1:
            raise fail(f"predictor pool size {size}: must be at least 1")
        self.size = size
        self._free: queue.Queue[Predictor] = queue.Queue()
        self._free.put(first)
        for _ in range(size - 1):
            self._free.put(first.clone())
        self._own = threading.local()

    def __call__(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        predictor = getattr(self._own, "predictor", None)
        if predictor is None:
            predictor = self._own.predictor = self._free.get()
        out = predictor(arrays)
        return list(out) if isinstance(out, tuple) else [out]


@dataclass
class ServedModel:
    """A model ready to answer: its files, signature, the predictor settings and the pool."""

    program: Path
    params: Path
    signature: Signature
    settings: PredictorSettings
    pool: PredictorPool

    @classmethod
    def open(cls, folder: str | Path, settings: PredictorSettings, parallel: int = 1) -> "ServedModel":
        """Find the files (model_files), open a predictor on them (files checked first) and clone it."""
        from slimpipe.inference import open_predictor

        program, params = model_files(folder)
        predictor = open_predictor(program, params, settings)
        signature = Signature.read(program)
        return cls(program, params, signature, settings, PredictorPool(predictor, parallel))

    def infer(self, arrays: list[np.ndarray]) -> list[tuple[TensorSpec, np.ndarray]]:
        """Run the model on inputs in feed order; each output with its spec."""
        try:
            outputs = self.pool(arrays)
        except Exception as exc:  # Paddle's own error types, for inputs its kernels refuse
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise BadRequest(f"the model could not run on these inputs ({first})") from None
        return list(zip(self.signature.outputs, outputs))
