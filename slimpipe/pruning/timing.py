"""Timing exported models side by side: build Paddle Inference predictors from a dygraph network, and time
several of them in alternating rounds so that drift in the machine's speed (other processes, frequency
scaling) falls on all of them alike.

`alternate` warms each predictor up, then runs `rounds` rounds; in each round every predictor runs
`repeats` timed `run()` calls (forward order in even rounds, reverse in odd ones, so that no predictor
always follows the same one) and the median of those calls is the round's figure. A predictor's Timing is
the median of its round figures, their interquartile range, and the round figures themselves, so that two
predictors can be compared round by round (latency.saving).

Exporting a network (paddle.jit.save: tracing, then saving) costs about a second for the demo's
MobileNetV2, several times building and timing its predictor. A pruned network differs from the unpruned
one only in the shapes of its tensors (and the `groups` of its depthwise convolutions, and the shape a bias
is reshaped to), so `Reshaper` derives a pruned network's program from the unpruned one's export: it sets
the parameters' new shapes, infers every operator's output shapes again, and writes the parameter file from
the network's tensors (about 0.03 s). `Reshaper.proven` checks that on the model at hand: for the network
pruned at every layer at once, the derived program must have the exported one's operators, attributes and
shapes, and give its outputs bit for bit. Where it does not, every pruned network is exported (the slower
path, same programs). Proven on the demo MobileNetV2, UNet, Fast-SCNN and YOLOv3-MobileNetV1.
"""
from __future__ import annotations

import statistics
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from slimpipe.inference import Predictor, PredictorSettings, make_config
from slimpipe.pruning.latency import spread
from slimpipe.pruning.masked_eval import same_outputs

WARMUP = 3  # untimed runs of each predictor before the rounds (a new predictor's first runs allocate)
FP32 = 5    # framework.proto's VarType.FP32
# Operator attributes that describe where an operator was created, not what it computes.
PROVENANCE_ATTRS = {"op_callstack", "op_namescope", "op_device", "op_role", "op_role_var", "with_quant_attr"}


@dataclass(frozen=True)
class Timing:
    """Milliseconds per run(): the median and interquartile range of the round medians, and those medians."""

    median_ms: float
    spread_ms: float
    samples: list[float]


def alternate(predictors: list[Predictor], feeds: list[np.ndarray], rounds: int, repeats: int,
              warmup: int = WARMUP, settle: int = 0) -> list[Timing]:
    """Time `predictors` on the same `feeds` in alternating rounds; one Timing each, in their order.
    `settle` untimed runs precede each predictor's timed ones in every round."""
    if rounds < 1 or repeats < 1 or warmup < 0 or settle < 0:
        raise ValueError(f"rounds and repeats must be >= 1, warmup and settle >= 0 (got {rounds}, {repeats}, "
                         f"{warmup}, {settle})")
    for predictor in predictors:
        predictor.feed(feeds)
        for _ in range(warmup):
            predictor.run()
    samples: list[list[float]] = [[] for _ in predictors]
    clock = time.perf_counter
    for round_ in range(rounds):
        order = range(len(predictors)) if round_ % 2 == 0 else reversed(range(len(predictors)))
        for i in order:
            run = predictors[i].run
            for _ in range(settle):
                run()
            times = []
            for _ in range(repeats):
                start = clock()
                run()
                times.append((clock() - start) * 1000.0)
            samples[i].append(float(statistics.median(times)))
    return [Timing(float(statistics.median(s)), spread(s), s) for s in samples]


def timed_as(table, predictors: list[Predictor], feeds: list[np.ndarray], rounds: int | None = None) -> list[Timing]:
    """`predictors` timed as `table` (a latency.LatencyTable) times its models: its timed and settling runs
    per round, over its rounds or `rounds`."""
    return alternate(predictors, feeds, rounds or table.rounds, table.repeats, settle=table.settle)


def exported_program(net, input_shapes: dict[str, list[int]]) -> tuple[bytes, bytes]:
    """The inference program and parameter file of a dygraph network (paddle.jit.save to a scratch folder)."""
    from slimpipe.modeldir import export

    net.eval()
    with tempfile.TemporaryDirectory(prefix="slimpipe-timing-") as tmp:
        export(net, Path(tmp) / "model", input_shapes)
        return Path(tmp, "model.pdmodel").read_bytes(), Path(tmp, "model.pdiparams").read_bytes()


def predictor_for(program: bytes, params: bytes, settings: PredictorSettings) -> Predictor:
    return Predictor(make_config(program, params, settings))


def exported_predictor(net, input_shapes: dict[str, list[int]], settings: PredictorSettings) -> Predictor:
    """A predictor for a dygraph network as it is now (pruned or not), exported in memory, with `settings`."""
    return predictor_for(*exported_program(net, input_shapes), settings)


def persistables(net) -> dict[str, np.ndarray]:
    """The network's parameters and buffers that an export saves, by their (program) names."""
    return {t.name: t.numpy() for t in list(net.parameters()) + list(net.buffers()) if t.persistable}


def combine(arrays: dict[str, np.ndarray]) -> bytes:
    """A parameter file (Paddle's save_combine layout, see slimpipe/pdformat.py) of float32 tensors."""
    from paddle.base.proto import framework_pb2

    out = bytearray()
    for name in sorted(arrays):
        data = np.ascontiguousarray(arrays[name], np.float32)
        desc = framework_pb2.VarType.TensorDesc(data_type=FP32, dims=list(data.shape)).SerializeToString()
        out += struct.pack("<IQIi", 0, 0, 0, len(desc)) + desc + data.tobytes()
    return bytes(out)


class Reshaper:
    """Derives the inference program of a pruned network from its unpruned export (see the module doc)."""

    def __init__(self, net, input_shapes: dict[str, list[int]]):
        """`net` unpruned; exported once here."""
        from slimpipe.pdformat import read_program

        self.input_shapes = input_shapes
        self.program, self.params = exported_program(net, input_shapes)
        tensors = read_program(Path("exported model.pdmodel"), self.program)
        if any(dtype != FP32 for dtype, _ in tensors.values()):
            raise RuntimeError("a parameter of the exported model is not float32")
        self.names = sorted(tensors)
        self.shapes = {name: tuple(shape) for name, (_, shape) in tensors.items()}

    def variant(self, net) -> tuple[bytes, bytes]:
        """(program, parameters) of `net` as it is now; raises RuntimeError where the program cannot be
        derived (a tensor the export does not hold, or an operator whose shapes cannot be inferred)."""
        from paddle.base import core

        arrays = persistables(net)
        missing = [n for n in self.names if n not in arrays]
        if missing:
            raise RuntimeError(f"the network has no tensor {missing[0]!r} of its export")
        arrays = {n: arrays[n] for n in self.names}
        desc = core.ProgramDesc(self.program)
        block = desc.block(0)
        for name, array in arrays.items():
            block.find_var(name.encode()).set_shape(list(array.shape))
        try:
            for i in range(block.op_size()):
                op = block.op(i)
                if op.type() in ("feed", "fetch"):
                    continue
                if op.type() in ("conv2d", "depthwise_conv2d") and op.attr("groups") > 1:
                    channels = block.find_var(op.input("Input")[0].encode()).shape()[1]
                    per_group = block.find_var(op.input("Filter")[0].encode()).shape()[1]
                    op._set_attr("groups", channels // per_group)
                elif op.type() == "reshape2" and op.input("X")[0] in arrays:  # a bias made [1, C, 1, 1]
                    _resize_reshape(op, self.shapes[op.input("X")[0]], arrays[op.input("X")[0]].shape)
                op.infer_shape(block)
        except Exception as exc:  # Paddle's own error types
            raise RuntimeError(f"operator {op.type()}: {str(exc).strip().splitlines()[0][:200]}") from None
        return desc.serialize_to_string(), combine(arrays)

    def proven(self, net, feeds: list[np.ndarray], settings: PredictorSettings) -> tuple[bool, str]:
        """Whether the program derived for `net` as it is now (pruned) is the one exporting it gives: the
        same operators with the same attributes and shapes, and the same outputs on `feeds`, bit for bit.
        Returns (proven, why not)."""
        try:
            derived = self.variant(net)
        except RuntimeError as exc:
            return False, str(exc)
        exported = exported_program(net, self.input_shapes)
        difference = _structural_difference(derived[0], exported[0])
        if difference:
            return False, difference
        if derived[1] != exported[1]:
            return False, "the parameter files differ"
        if not same_outputs(predictor_for(*derived, settings)(feeds), predictor_for(*exported, settings)(feeds)):
            return False, "the outputs differ"
        return True, ""


def _resize_reshape(op, old: tuple[int, ...], new: tuple[int, ...]) -> None:
    """A reshape of a parameter to a fixed shape with one dimension of its size (a convolution's bias
    reshaped to [1, C, 1, 1]) follows the parameter's new size."""
    before, after = int(np.prod(old)), int(np.prod(new))
    shape = list(op.attr("shape"))
    if before != after and [d for d in shape if d != 1] == [before]:
        op._set_attr("shape", [after if d == before else d for d in shape])


def _structural_difference(derived: bytes, exported: bytes) -> str:
    """'' where the programs have the same operators in the same order, each with the exported one's
    attributes (provenance aside) and input and output shapes; else the first difference."""
    from paddle.base.proto import framework_pb2

    programs = []
    for data in (derived, exported):
        program = framework_pb2.ProgramDesc()
        program.ParseFromString(data)
        programs.append(program.blocks[0])
    a, b = programs
    if [op.type for op in a.ops] != [op.type for op in b.ops]:
        return "the operators differ"
    dims = [{v.name: list(v.type.lod_tensor.tensor.dims) for v in block.vars} for block in (a, b)]
    for i, (x, y) in enumerate(zip(a.ops, b.ops)):
        attrs = {at.name: at for at in x.attrs}
        for at in y.attrs:
            if at.name not in PROVENANCE_ATTRS and attrs.get(at.name) != at:
                return f"operator {i} ({y.type}): attribute {at.name} differs"
        for mine, theirs in ((x.inputs, y.inputs), (x.outputs, y.outputs)):
            shapes_x = {v.parameter: [dims[0].get(n) for n in v.arguments] for v in mine}
            shapes_y = {v.parameter: [dims[1].get(n) for n in v.arguments] for v in theirs}
            if shapes_x != shapes_y:
                return f"operator {i} ({y.type}): shapes differ"
    return ""

