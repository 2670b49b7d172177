"""Paddle's exported inference files, checked in Python before Paddle's C++ reads them: Paddle Inference
crashes the whole process (SIGSEGV) on a `.pdmodel` that is not a program, and aborts in C++ on a
parameter file that does not match its program.

`.pdmodel` is a ProgramDesc protobuf (paddle/fluid/framework/framework.proto). `.pdiparams` is Paddle's
`save_combine` of the program's persistable tensors in sorted name order, each stored as:
uint32 version, uint64 LoD levels (each a uint64 byte count and that many bytes), uint32 version,
int32 size of a TensorDesc protobuf, the TensorDesc (data type, dims), then the tensor's data.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from slimpipe.errors import fail

# Bytes per element of each VarType.Type data type (framework.proto's numbering).
DTYPE_BYTES = {0: 1, 1: 2, 2: 4, 3: 8, 4: 2, 5: 4, 6: 8, 20: 1, 21: 1, 22: 2, 23: 8, 24: 16}
LOD_TENSOR = 7
NOT_SAVED = (9, 10, 15)  # FEED_MINIBATCH, FETCH_LIST, READER: persistable but never in the parameter file


@dataclass(frozen=True)
class TensorRecord:
    """Where one tensor's data lies in a parameter file, and what it is."""

    dtype: int
    shape: tuple[int, ...]
    offset: int

    @property
    def count(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.count * DTYPE_BYTES[self.dtype]


def _proto():
    import slimpipe  # noqa: F401  (Pillow before paddle)
    from paddle.base.proto import framework_pb2

    return framework_pb2


def parse_program(data: bytes):
    """A ProgramDesc from bytes already checked (read_program) or made by Paddle itself."""
    program = _proto().ProgramDesc()
    program.ParseFromString(data)
    return program


def read_program(path: Path, data: bytes | None = None) -> dict[str, tuple[int, tuple[int, ...]]]:
    """The persistable tensors a program's parameter file holds: {name: (data type, shape)}, checking
    that `path` (or `data`, its bytes) is an inference program with feed and fetch operators."""
    proto = _proto()
    program = proto.ProgramDesc()
    try:
        program.ParseFromString(Path(path).read_bytes() if data is None else data)
    except Exception:  # protobuf's DecodeError, whichever implementation is installed
        raise fail(f"{path}: not a Paddle inference program (the file does not parse as a ProgramDesc)") from None
    ops = {op.type for block in program.blocks for op in block.ops}
    if not program.blocks or not {"feed", "fetch"} <= ops:
        raise fail(f"{path}: not a Paddle inference program (no blocks, or no feed and fetch operators)")
    tensors = {}
    for var in program.blocks[0].vars:
        if not var.persistable or var.type.type in NOT_SAVED:
            continue
        if var.type.type != LOD_TENSOR or var.type.lod_tensor.tensor.data_type not in DTYPE_BYTES:
            raise fail(f"{path}: persistable variable {var.name!r} is not a dense tensor slimpipe can check")
        desc = var.type.lod_tensor.tensor
        tensors[var.name] = (desc.data_type, tuple(desc.dims))
    return tensors


def _read(stream: BinaryIO, size: int, path: Path, what: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise fail(f"{path}: truncated parameter file (ends inside {what})")
    return data


def index_params(path: Path, tensors: dict[str, tuple[int, tuple[int, ...]]],
                 stream: BinaryIO | None = None) -> dict[str, TensorRecord]:
    """Walk a parameter file (or `stream`, its bytes) against the program's tensors; refuses a file that
    is truncated, longer than they need, or holds tensors of other types or shapes."""
    proto = _proto()
    own = stream is None
    stream = open(path, "rb") if own else stream
    try:
        size = stream.seek(0, 2)
        stream.seek(0)
        index = {}
        for name in sorted(tensors):
            what = f"tensor {name!r}"
            _read(stream, 4, path, what)
            (lod_levels,) = struct.unpack("<Q", _read(stream, 8, path, what))
            if lod_levels > 16:
                raise fail(f"{path}: not a parameter file of this program (tensor {name!r}: {lod_levels} LoD levels)")
            for _ in range(lod_levels):
                (lod_bytes,) = struct.unpack("<Q", _read(stream, 8, path, what))
                if stream.seek(lod_bytes, 1) > size:
                    raise fail(f"{path}: truncated parameter file (ends inside {what})")
            _read(stream, 4, path, what)
            (desc_size,) = struct.unpack("<i", _read(stream, 4, path, what))
            if not 0 <= desc_size <= 4096:
                raise fail(f"{path}: not a parameter file of this program (tensor {name!r}: bad header)")
            desc = proto.VarType.TensorDesc()
            try:
                desc.ParseFromString(_read(stream, desc_size, path, what))
            except Exception:  # protobuf's DecodeError
                raise fail(f"{path}: not a parameter file of this program (tensor {name!r}: bad header)") from None
            dtype, shape = tensors[name]
            got = tuple(desc.dims)
            if (desc.data_type != dtype or len(got) != len(shape) or any(g < 0 for g in got)
                    or any(s >= 0 and g != s for g, s in zip(got, shape))):
                raise fail(f"{path}: tensor {name!r} is stored as type {desc.data_type} with shape {list(got)}, the "
                           f"program expects type {dtype} with shape {list(shape)}: not this model's parameters")
            record = TensorRecord(dtype, got, stream.tell())
            if stream.seek(record.nbytes, 1) > size:  # skip the data without reading it
                raise fail(f"{path}: truncated parameter file (ends inside {what})")
            index[name] = record
        if stream.tell() < size:
            raise fail(f"{path}: longer than the {len(tensors)} tensors of its program: not this model's parameters")
        return index
    finally:
        if own:
            stream.close()


def check_inference_files(program: Path, params: Path) -> dict[str, TensorRecord]:
    """Both files of an exported model, checked against each other; returns the parameter index."""
    return index_params(params, read_program(program))
