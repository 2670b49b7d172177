"""Evaluate "this layer pruned at this ratio" fast: one MKLDNN predictor is built from the exported model;
each evaluation writes the masked network's values into its scope, runs a fresh clone of it (clones share
the scope; a clone that has not run yet has no oneDNN weights cached from earlier values), and writes the
originals back.

Zeroing a channel in every tensor of its coupled group (PaddleSlim's lazy pruning) gives the same
outputs as removing it, so the metric matches structural pruning; tests check that.

Building a predictor (its IR passes) costs several times one evaluation of the sample, so it is built once.
Three ways to serve the evaluations, tried in this order (`fold=True`; the sensitivity stage asks for it):

1. folded: the predictor keeps every pass, so batch norm is folded into the convolution before it
   (conv_bn_fuse_pass: filter W' = W * g, bias b' = ((0 - mean) * g) + beta with g = gamma / sqrt(var + eps),
   W' written over W, b' a new variable named in the optimized program) and reshapes of parameters are
   constant-folded. The evaluator reads the optimized program that Paddle saves, maps each exported
   parameter to the scope tensors made from it (`ScopePlan`), and writes the masked network's folded
   values there, computed in numpy with the pass's float32 operations in its order. Masking before the
   fold is the same as masking after it: PaddleSlim zeroes a pruned channel's filter rows and its batch
   norm's gamma and beta (and mean and variance), so g and b' are 0 there and W' keeps zero rows; a
   consumer's zeroed input channels are columns of its W, which the fold scales row by row.
2. in place: the predictor is built without the passes that fold parameters together
   (WEIGHT_FOLDING_PASSES), so each exported parameter is a scope tensor of its own name (about 1.5x
   slower per evaluation on the classification demo model, where every convolution has a batch norm:
   bench/jobs/fold.py).
3. rebuilt: every evaluation builds its own predictor (2.'s settings) from a patched copy of the
   parameter file (the slowest path, same numbers).

A path is taken only once proven on the model at hand, bit for bit: the scope must hold exactly the values
the plan computes from the exported parameters, and with every parameter perturbed the shared predictor
must give the outputs of a predictor built (with the same passes) from the perturbed file, then its first
outputs again once the originals are written back. No tolerance is needed on the folded path: the filter
and bias are computed with the pass's float32 operations in its order (W * g; ((0 - mean) * g) + beta, no
fused multiply-add), and g = gamma / sqrt(var + eps), which Paddle computes with a vectorized square root
that is not correctly rounded (up to 2 ulps off numpy's in a third of the demo MobileNetV2's channels), is
the pass's own (it leaves g in the variance's tensor) for every channel whose gamma and variance are the
exported ones. g is computed here only where they changed, which a mask does by zeroing them, and
0 / sqrt(0 + eps) is 0 however the root is rounded. So the proof perturbs a folded batch norm's gamma and
variance as a mask does (channels zeroed), and every other tensor by random factors.
"""
from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

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
FOLDED_CONVOLUTIONS = ("conv2d", "depthwise_conv2d")  # filters [out, in / groups, kh, kw], scaled per output row
RESHAPES = ("reshape2", "unsqueeze2", "squeeze2")  # ops that keep a tensor's values in order (constant-folded)
OPTIMIZED_PROGRAM = "_optimized.pdmodel"  # what Paddle Inference writes with enable_save_optim_model

Values = Callable[[str], np.ndarray]
Reference = Callable[[dict[str, np.ndarray]], object]  # changed parameters -> outputs on the probe


def index_params(program: bytes, params: bytes) -> dict[str, tuple[int, int]]:
    """Offsets and element counts of each tensor's float32 data in an exported parameter file."""
    from slimpipe import pdformat

    where = Path("exported model")
    records = pdformat.index_params(where.with_suffix(".pdiparams"),
                                    pdformat.read_program(where.with_suffix(".pdmodel"), program), io.BytesIO(params))
    if any(r.dtype != FP32 for r in records.values()):
        raise RuntimeError("parameter file layout not understood (a tensor is not float32)")
    return {name: (r.offset, r.count) for name, r in records.items()}


@dataclass(frozen=True)
class BatchNormFold:
    """A convolution without a bias followed by batch norm, folded into the convolution's filter (`filter`,
    rewritten in place) and a bias (`bias_target`, a new variable that the fused convolution reads)."""

    filter: str
    gamma: str
    beta: str
    mean: str
    variance: str
    epsilon: float
    bias_target: str

    @property
    def sources(self) -> tuple[str, ...]:
        """The exported tensors the folded values are computed from."""
        return self.filter, self.gamma, self.beta, self.mean, self.variance

    def factor(self, value: Values) -> np.ndarray:
        """gamma / sqrt(variance + eps), correctly rounded in float32."""
        return value(self.gamma) / np.sqrt(value(self.variance) + np.float32(self.epsilon))

    def folded(self, value: Values, factor: np.ndarray) -> dict[str, np.ndarray]:
        """The filter and bias conv_bn_fuse_pass makes with `factor`: its float32 operations in its order."""
        weight = value(self.filter)
        return {self.filter: weight * factor.reshape(-1, *[1] * (weight.ndim - 1)),
                self.bias_target: ((np.zeros_like(factor) - value(self.mean)) * factor) + value(self.beta)}


@dataclass(frozen=True)
class ScopePlan:
    """Where a predictor's scope holds each exported parameter: under its own name (`direct`), folded with
    others (`folds`), or reshaped into a constant-folded tensor (`reshapes`: target -> (source, shape)).
    `factors`: each fold's gamma / sqrt(variance + eps) as the pass computed it (by variance name)."""

    direct: frozenset[str]
    folds: tuple[BatchNormFold, ...] = ()
    reshapes: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)
    factors: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def identity(cls, names) -> "ScopePlan":
        return cls(frozenset(names))

    def scope_values(self, changed: dict[str, np.ndarray], original: Values) -> dict[str, np.ndarray]:
        """The scope tensors that depend on the parameters in `changed`, with the values they take when those
        parameters hold `changed`'s values and every other one its `original`."""
        value = (lambda name: changed[name] if name in changed else original(name))
        out = {name: v for name, v in changed.items() if name in self.direct}
        for fold in self.folds:
            if any(name in changed for name in fold.sources):
                out.update(fold.folded(value, self._factor(fold, value, original)))
        for target, (source, shape) in self.reshapes.items():
            if source in changed:
                out[target] = changed[source].reshape(shape)
        return out

    def _factor(self, fold: BatchNormFold, value: Values, original: Values) -> np.ndarray:
        """The pass's own factor for each channel whose gamma and variance are the exported ones (Paddle's
        vectorized square root may differ from a correctly rounded one by an ulp); computed elsewhere, which
        is exact where a mask zeroed gamma (0 / sqrt(variance + eps) is 0 however the root is rounded)."""
        computed = fold.factor(value)
        if fold.variance not in self.factors:
            return computed
        same = _same_bits(value(fold.gamma), original(fold.gamma)) & \
            _same_bits(value(fold.variance), original(fold.variance))
        return np.where(same, self.factors[fold.variance], computed)


def _same_bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, np.float32).view(np.uint32) == np.ascontiguousarray(b, np.float32).view(np.uint32)


def _slots(op) -> dict[str, list[str]]:
    return {v.parameter: list(v.arguments) for v in op.inputs}


def _outputs(op) -> dict[str, list[str]]:
    return {v.parameter: list(v.arguments) for v in op.outputs}


def _parse(program: bytes):
    from slimpipe import pdformat

    return pdformat.parse_program(program).blocks[0]


def _readers(block) -> dict[str, list]:
    """The operators reading each variable."""
    out: dict[str, list] = {}
    for op in block.ops:
        for name in {a for v in op.inputs for a in v.arguments}:
            out.setdefault(name, []).append(op)
    return out


def scope_plan(program: bytes, optimized: bytes, params: set[str]) -> tuple[ScopePlan | None, str]:
    """How the optimized program (what the passes made of `program`) holds the exported `params`, or None
    and why not. A batch norm right after a convolution counts as folded when the optimized program no
    longer reads its parameters; the convolution must then be the one operator reading the filter, with a
    Bias input read by nothing else (a convolution with a bias of its own is followed by an add, which
    Paddle 2.6 does not fold, nor does this). A persistable tensor that the original program made from a
    parameter by reshapes alone is a constant-folded copy of it. Any other rewrite is left to the proof."""
    block, fused = _parse(program), _parse(optimized)
    readers, fused_readers = _readers(block), _readers(fused)
    folds = []
    for op in block.ops:
        if op.type not in FOLDED_CONVOLUTIONS:
            continue
        weight, after = _slots(op)["Filter"][0], readers.get(_outputs(op)["Output"][0], [])
        if len(after) != 1 or after[0].type != "batch_norm":
            continue
        bn = _slots(after[0])
        norm = [bn[slot][0] for slot in ("Scale", "Bias", "Mean", "Variance")]
        if any(name in fused_readers for name in norm):
            continue  # not folded: the batch norm still reads its own parameters
        users = fused_readers.get(weight, [])
        bias = _slots(users[0]).get("Bias", []) if len(users) == 1 else []
        if len(bias) != 1 or len(fused_readers.get(bias[0], [])) != 1 or bias[0] in params:
            return None, f"the batch norm after {weight} was folded into something other than one biased convolution"
        epsilon = next(a.f for a in after[0].attrs if a.name == "epsilon")
        folds.append(BatchNormFold(weight, *norm, epsilon=epsilon, bias_target=bias[0]))
    producer = {a: op for op in block.ops for v in op.outputs for a in v.arguments}
    shapes = {v.name: tuple(v.type.lod_tensor.tensor.dims) for v in fused.vars if v.persistable}
    reshapes = {}
    for target in set(shapes) & set(fused_readers) - params:
        source, op = target, producer.get(target)
        while op is not None and op.type in RESHAPES and not any(
                args for slot, args in _slots(op).items() if slot != "X"):
            source = _slots(op)["X"][0]
            op = producer.get(source)
        if source in params and source != target:
            if any(d < 0 for d in shapes[target]):
                return None, f"constant-folded tensor {target} has no static shape"
            reshapes[target] = (source, shapes[target])
    members = {name for fold in folds for name in fold.sources}
    return ScopePlan(frozenset(params - members), tuple(folds), reshapes), f"{len(folds)} batch norms folded"


class MaskedEvaluator:
    """Exports the model once; `predictor(changed)` lends a predictor that runs with some tensors replaced.
    `folded` says the folded path serves the evaluations, `in_place` that one predictor serves them all."""

    def __init__(self, model, input_shapes: dict[str, list[int]], probe: list[np.ndarray], threads: int = 2,
                 deleted_passes: tuple[str, ...] = WEIGHT_FOLDING_PASSES, fold: bool = False):
        """`input_shapes`: the exported inputs by name, shapes less the batch axis (Task.input_shapes);
        `probe`: a small batch of real inputs (Task.feeds) on which each path is proven; `fold`: try the
        folded path first; `deleted_passes`: the passes left out of the in-place and rebuilt paths."""
        from slimpipe.modeldir import export

        tensors = list(model.parameters()) + list(model.buffers())
        shapes = {t.name: tuple(t.shape) for t in tensors if t.persistable}
        with tempfile.TemporaryDirectory(prefix="slimpipe-masked-") as tmp:
            export(model, f"{tmp}/model", input_shapes)
            program, params = Path(f"{tmp}/model.pdmodel").read_bytes(), Path(f"{tmp}/model.pdiparams").read_bytes()
        self._reference = None
        self._setup(program, params, shapes, probe, threads, deleted_passes, fold)

    @classmethod
    def of_program(cls, program: bytes, params: bytes, probe: list[np.ndarray], threads: int = 2,
                   deleted_passes: tuple[str, ...] = WEIGHT_FOLDING_PASSES, fold: bool = False,
                   reference: Reference | None = None) -> "MaskedEvaluator":
        """The same for an exported program and its parameter file, given as bytes (the shapes are the
        program's); `probe` feeds its inputs in order. `reference`: what the proof compares with, the
        outputs on `probe` with some parameters changed (default: a predictor built from a patched file)."""
        from slimpipe import pdformat

        shapes = {name: shape for name, (_, shape) in
                  pdformat.read_program(Path("exported model.pdmodel"), program).items()}
        evaluator = cls.__new__(cls)
        evaluator._reference = reference
        evaluator._setup(program, params, shapes, probe, threads, deleted_passes, fold, announce=False)
        return evaluator

    def _setup(self, program: bytes, params: bytes, shapes: dict[str, tuple[int, ...]], probe: list[np.ndarray],
               threads: int, deleted_passes: tuple[str, ...], fold: bool, announce: bool = True) -> None:
        self._program, self._params, self._shapes, self.threads = program, params, shapes, threads
        self._index = index_params(self._program, self._params)
        if set(self._index) != set(self._shapes):
            raise RuntimeError("the exported parameter file does not hold the model's persistable tensors")
        self.folded = fold and self._take_folded(threads, probe)
        if self.folded:
            self.in_place = True
            if announce:
                log("sensitivity", f"one predictor for every evaluation, batch norm folded into "
                                   f"{len(self._plan.folds)} convolutions: the masked network's folded tensors "
                                   f"written in place")
            return
        self._settings = PredictorSettings(mkldnn=True, threads=threads, deleted_passes=deleted_passes)
        self._plan = ScopePlan.identity(self._shapes)
        self._shared = self._build(self._params)
        self.in_place = self._overwrite_works(probe)
        if announce:
            log("sensitivity", "one predictor for every evaluation: masked parameters overwritten in place"
                if self.in_place else "this model's predictor folds parameters together: building one predictor per "
                                      "evaluation")

    @property
    def program(self) -> bytes:
        """The exported program evaluated (a ProgramDesc)."""
        return self._program

    @property
    def params(self) -> bytes:
        """Its exported parameter file."""
        return self._params

    @property
    def settings(self) -> PredictorSettings:
        """The settings its predictors are built with."""
        return self._settings

    @property
    def parameter_names(self) -> list[str]:
        """The exported parameters (the persistable tensors of the program)."""
        return list(self._shapes)

    def _take_folded(self, threads: int, probe: list[np.ndarray]) -> bool:
        """Build the predictor with every pass, map its scope (ScopePlan) and prove the folded path."""
        self._settings = PredictorSettings(mkldnn=True, threads=threads)
        with tempfile.TemporaryDirectory(prefix="slimpipe-folded-") as tmp:
            config = make_config(self._program, self._params, self._settings)
            config.enable_save_optim_model(True)
            config.set_optim_cache_dir(tmp)
            self._shared = Predictor(config)
            saved = Path(tmp, OPTIMIZED_PROGRAM)
            optimized = saved.read_bytes() if saved.is_file() else None
        if optimized is None:
            log("sensitivity", "folded evaluation not available: Paddle saved no optimized program")
            return False
        plan, why = scope_plan(self._program, optimized, set(self._shapes))
        if plan is None:
            log("sensitivity", f"folded evaluation not available: {why}")
            return False
        try:  # the pass leaves its factor in the variance's tensor (recompute_bias_and_weights)
            factors = {f.variance: self._shared.tensor(f.variance).copy_to_cpu().reshape(-1) for f in plan.folds}
        except Exception:  # Paddle raises its own error types
            factors = None
        if factors is None or not all(np.allclose(factors[f.variance], f.factor(self.original), rtol=1e-6, atol=0)
                                      for f in plan.folds):
            log("sensitivity", "folded evaluation not available: the fold's factors are not where expected")
            return False
        self._plan = replace(plan, factors=factors)
        if not self._overwrite_works(probe):
            log("sensitivity", f"folded evaluation not proven on this model ({why}): not used")
            return False
        return True

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
        checked = {name: self._checked(name, value) for name, value in changed.items()}
        self._write(self._plan.scope_values(checked, self.original))
        try:
            yield self._shared.clone()
        finally:
            self._write(self._plan.scope_values({name: self.original(name) for name in changed}, self.original))

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
            self._shared.tensor(name).copy_from_cpu(np.ascontiguousarray(value, dtype=np.float32))

    def _patched_file(self, changed: dict[str, np.ndarray]) -> bytes:
        buf = bytearray(self._params)
        for name, value in changed.items():
            off, count = self._index[name]
            buf[off:off + 4 * count] = self._checked(name, value).tobytes()
        return bytes(buf)

    def _overwrite_works(self, probe: list[np.ndarray]) -> bool:
        """Whether the shared predictor's scope holds what the plan makes of the exported parameters and,
        with every parameter overwritten (scaled by seeded factors in [0.9, 1.1]; a folded batch norm's gamma
        and variance as a mask changes them, half their channels zeroed), gives the outputs of a predictor
        built (with the same passes) from a file with the same values (or the `reference`'s, where one was
        given), then its first outputs again once they are written back (no stale cached weights)."""
        everything = {name: self.original(name) for name in self._shapes}
        try:
            untouched = all(np.array_equal(self._shared.tensor(n).copy_to_cpu(), v)
                            for n, v in self._plan.scope_values(everything, self.original).items())
        except Exception:  # a pass removed the variable; Paddle raises its own error types
            return False
        if not untouched:
            return False
        rng = np.random.default_rng(0)
        perturbed = {name: self.original(name) * rng.uniform(0.9, 1.1, self._shapes[name]).astype(np.float32)
                     for name in self._shapes}
        for fold in self._plan.folds:
            gone = rng.random(self._shapes[fold.gamma]) < 0.5
            for name in (fold.gamma, fold.variance):
                perturbed[name] = np.where(gone, np.float32(0), self.original(name))
        with self._overwritten({}) as plain:
            before = plain(probe)
        with self._overwritten(perturbed) as overwritten:
            got = overwritten(probe)
        with self._overwritten({}) as plain:
            after = plain(probe)
        reference = (self._reference(perturbed) if self._reference is not None
                     else self._build(self._patched_file(perturbed))(probe))
        return same_outputs(got, reference) and same_outputs(after, before)


def same_outputs(a, b) -> bool:
    """Bit for bit: the same program and kernels on the same values give the same numbers."""
    a, b = (a if isinstance(a, tuple) else (a,)), (b if isinstance(b, tuple) else (b,))
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
