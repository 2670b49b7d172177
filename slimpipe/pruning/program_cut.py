"""Cut an exported inference program in two: the front (prefix) computes the tensors that cross the cut,
the back (suffix) takes them as its inputs and computes the model's outputs. Evaluating "this layer
pruned" only changes the network from the first operator that reads a masked parameter on, so the front
up to a cut before it can be run once and its outputs reused (prefix_reuse.py).

Works on the program and parameter file as bytes (a ProgramDesc protobuf; `save_combine` records, see
pdformat.py) and does no file I/O. A cut is only proposed here; whether the two halves give the full
program's numbers is proven by the caller on real inputs.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from slimpipe import pdformat

# Operators whose output a later pass fuses with what follows (a batch norm, a bias add, an activation):
# a cut right after one (its first writer) would keep the fusion from happening and change the numbers.
FUSED_PRODUCERS = ("conv2d", "depthwise_conv2d", "conv2d_transpose", "matmul", "matmul_v2", "mul", "fc")


@dataclass(frozen=True)
class Cut:
    """Run operators [0, index) in the front; `tensors` (sorted) cross from the front to the back."""

    index: int
    tensors: tuple[str, ...]


@dataclass(frozen=True)
class Part:
    """One half of a cut program, as the files Paddle Inference reads (in memory)."""

    program: bytes
    params: bytes


def _args(slots) -> set[str]:
    return {a for v in slots for a in v.arguments}


class Program:
    """An exported program's operators, read once: who reads and who writes each variable."""

    def __init__(self, program: bytes):
        self.desc = pdformat.parse_program(program)
        block = self.desc.blocks[0]
        self.ops = list(block.ops)
        self.persistable = {v.name for v in block.vars if v.persistable}
        feeds = [i for i, op in enumerate(self.ops) if op.type == "feed"]
        fetches = [i for i, op in enumerate(self.ops) if op.type == "fetch"]
        self.body = (max(feeds, default=-1) + 1, min(fetches, default=len(self.ops)))  # the computing operators
        self.producer: dict[str, int] = {}
        for i, op in enumerate(self.ops):
            for name in _args(op.outputs):
                self.producer.setdefault(name, i)
        self.readers: dict[str, list[int]] = {}
        for i, op in enumerate(self.ops):
            for name in _args(op.inputs):
                self.readers.setdefault(name, []).append(i)
        self.last_reader = {name: max(at) for name, at in self.readers.items()}

    def first_reader(self, names) -> int | None:
        """The index of the first operator reading any of `names` (None: no operator reads them)."""
        return min((i for name in names for i in self.readers.get(name, [])), default=None)

    def crossing(self, index: int) -> tuple[str, ...]:
        """The non-persistable variables made before operator `index` and read from it on."""
        return tuple(sorted(n for n, last in self.last_reader.items()
                            if n not in self.persistable and self.producer.get(n, index) < index <= last))

    def latest_cut(self, before: int) -> Cut | None:
        """The latest cut at or before operator `before` that leaves at least one computing operator in
        front and behind, whose crossing tensors are not the output of an operator that a pass fuses with
        what follows; None if there is none, or if the program has sub-blocks (control flow, whose reads
        this does not follow)."""
        start, end = self.body
        if len(self.desc.blocks) > 1:
            return None
        for index in range(min(before, end - 1), start, -1):
            cut = self._cut_at(index)
            if cut:
                return cut
        return None

    def earliest_cut(self, after: int) -> Cut | None:
        """The earliest cut at or after operator `after`, under the same rules as latest_cut."""
        start, end = self.body
        if len(self.desc.blocks) > 1:
            return None
        for index in range(max(after, start + 1), end):
            cut = self._cut_at(index)
            if cut:
                return cut
        return None

    def _cut_at(self, index: int) -> Cut | None:
        tensors = self.crossing(index)
        if tensors and not any(self.ops[self.producer[t]].type in FUSED_PRODUCERS for t in tensors):
            return Cut(index, tensors)
        return None


def split(program: Program, params: bytes, cut: Cut) -> tuple[Part, Part]:
    """The front (fetching `cut.tensors`, in order) and the back (fed `cut.tensors`, in order) of `program`,
    each with the parameter file holding exactly the tensors it reads."""
    start, end = program.body
    feed, fetch = program.ops[start - 1], program.ops[end]
    index = _records(program, params)
    front = _part(program, index, params, program.ops[:cut.index], [(fetch, "inputs", t) for t in cut.tensors])
    back = _part(program, index, params, program.ops[cut.index:end],
                 [(feed, "outputs", t) for t in cut.tensors], leading=True, tail=program.ops[end:])
    return front, back


def _records(program: Program, params: bytes) -> dict[str, tuple[int, int]]:
    """Each saved tensor's byte range [start, end) in the parameter file (records are back to back)."""
    where = Path("exported model.pdiparams")
    tensors = pdformat.read_program(where.with_suffix(".pdmodel"), program.desc.SerializeToString())
    records = pdformat.index_params(where, tensors, io.BytesIO(params))
    out, start = {}, 0
    for name in sorted(records):
        end = records[name].offset + records[name].nbytes
        out[name] = (start, end)
        start = end
    return out


def _part(program: Program, index: dict[str, tuple[int, int]], params: bytes, ops, ends, leading: bool = False,
          tail=()) -> Part:
    """A program of `ops` with a feed or fetch operator per (template, slot side, tensor) in `ends` (column =
    position), before the operators when `leading`, and `tail` after them; the vars it uses, and their
    parameter records."""
    desc = pdformat.parse_program(program.desc.SerializeToString())
    block = desc.blocks[0]
    del block.ops[:]
    made = []
    for col, (template, side, tensor) in enumerate(ends):
        op = type(template)()
        op.CopyFrom(template)
        getattr(op, side)[0].arguments[:] = [tensor]
        for attr in op.attrs:
            if attr.name == "col":
                attr.i = col
        made.append(op)
    for op in (made if leading else []) + list(ops) + ([] if leading else made) + list(tail):
        block.ops.add().CopyFrom(op)
    used = set().union(*(_args(op.inputs) | _args(op.outputs) for op in block.ops))
    kept = [v for v in block.vars if v.name in used]
    del block.vars[:]
    for var in kept:
        block.vars.add().CopyFrom(var)
    fed = {t for _, side, t in ends if side == "outputs"}
    for var in block.vars:
        if var.name in fed:
            var.need_check_feed = True
    saved = sorted(name for name in index if name in used)
    return Part(desc.SerializeToString(), b"".join(params[slice(*index[name])] for name in saved))
