"""Skip the unchanged front of the network: "layer L pruned at ratio r" changes nothing before the first
operator that reads one of the masked parameters, so the tensors crossing a cut before it are the same as
the unpruned model's. They are computed once for the whole sample (the front, program_cut.py) and every
evaluation of a layer behind that cut runs only the back, on a masked evaluator of its own
(masked_eval.py). On the classification demo's MobileNetV2 the back of an average layer costs about a
fifth of the whole network: most of the work is in the first, high-resolution layers.

A cut is used only once proven on the probe images, bit for bit: the back fed the front's outputs gives
the whole model's outputs with the original parameters, and its evaluator passes masked_eval's proof
with the whole model's proven evaluator as the reference (every parameter the back reads perturbed, a
folded batch norm's as a mask changes them, then written back). A cut that is not proven, or whose
tensors would not fit in `budget` bytes beside the cuts already held, is not used: those layers are
evaluated on the whole network (or an earlier cut) as before.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from slimpipe.inference import Predictor, make_config
from slimpipe.progress import log
from slimpipe.pruning import program_cut
from slimpipe.pruning.masked_eval import MaskedEvaluator, same_outputs

CACHE_BYTES = 1 << 30  # the cut tensors one process holds at once, at most
KEPT_CUTS = 2  # cuts held at once (an analysis goes layer by layer; workers are at most a layer or two apart)
GIVE_UP = 3  # refused cuts, with none proven, after which a model's layers all run on the whole network


@dataclass
class Segment:
    """A proven cut: the back's evaluator, the front's outputs for every batch (the back's inputs, in
    order) and the back's mean seconds per evaluation so far."""

    cut: program_cut.Cut
    back: MaskedEvaluator
    fronts: list[list[np.ndarray]]
    seconds: float = 0.0
    runs: int = 0

    def timed(self, seconds: float) -> None:
        self.seconds = (self.seconds * self.runs + seconds) / (self.runs + 1)
        self.runs += 1


@dataclass
class ReuseCounts:
    """What the reuse did: evaluations on a back only, on the whole network, cuts proven and refused, and
    the seconds spent proving cuts and computing their fronts."""

    back_only: int = 0
    whole: int = 0
    cuts: int = 0
    refused: int = 0
    setup_seconds: float = 0.0

    def text(self) -> str:
        return (f"{self.back_only} evaluations ran only the network behind a cut ({self.cuts} cuts proven in "
                f"{self.setup_seconds:.1f} s{f', {self.refused} not used' if self.refused else ''}), "
                f"{self.whole} the whole network")


class PrefixReuse:
    """`outputs(changed)`: the model's outputs on every batch with the parameters in `changed` replaced,
    running only the part of the network behind a usable cut before them. A layer gets a cut of its own
    (the latest before it) unless an earlier cut already held runs its back so fast that a new one could
    not pay for its setup over `per_layer` evaluations (both times as measured in this run). Nothing is
    tried where the whole model's evaluator does not write masked values in place, nor after
    GIVE_UP refusals with no cut proven."""

    def __init__(self, whole: MaskedEvaluator, batches: Callable[[], Iterable[list[np.ndarray]]],
                 probe: list[np.ndarray], per_layer: int, budget: int = CACHE_BYTES, kept: int = KEPT_CUTS):
        """`whole`: the proven evaluator of the whole model; `batches()`: the sample's feeds, batch by batch
        (made anew for each pass, not held); `probe`: the images each cut is proven on; `per_layer`:
        evaluations this process expects per layer; `budget`: bytes of cut tensors held at once, at most;
        `kept`: cuts held at once, at most."""
        self.whole, self.batches, self.probe, self.budget, self.kept = whole, batches, probe, budget, kept
        self.per_layer = per_layer
        self.program = program_cut.Program(whole.program)
        self.counts = ReuseCounts()
        self._segments: OrderedDict[int, Segment] = OrderedDict()
        self._refused: set[int] = set()
        self._cut_before: dict[int, program_cut.Cut | None] = {}
        self._images: int | None = None

    def outputs(self, changed: dict[str, np.ndarray]) -> list[Any]:
        segment = self._segment(changed)
        if segment is None:
            self.counts.whole += 1
            with self.whole.predictor(changed) as predictor:
                return [predictor(batch) for batch in self.batches()]
        self.counts.back_only += 1
        names = set(segment.back.parameter_names)  # a changed tensor no operator reads is not in the back
        with segment.back.predictor({k: v for k, v in changed.items() if k in names}) as predictor:
            start = time.perf_counter()
            out = [predictor(front) for front in segment.fronts]
            segment.timed(time.perf_counter() - start)
            return out

    def _segment(self, changed: dict[str, np.ndarray]) -> Segment | None:
        first = self.program.first_reader(changed)
        if first is None or not self.whole.in_place or (self.counts.refused >= GIVE_UP and not self.counts.cuts):
            return None
        held = max((s for s in self._segments.values() if s.cut.index <= first), key=lambda s: s.cut.index,
                   default=None)
        if held is not None:
            self._segments.move_to_end(held.cut.index)
        if first not in self._cut_before:
            self._cut_before[first] = self.program.latest_cut(first)
        cut = self._cut_before[first]
        if cut is None or cut.index in self._refused:
            return held
        if held is not None and (held.cut.index == cut.index or self._not_worth_a_cut(held)):
            return held
        while len(self._segments) >= self.kept:  # make room first: the new cut's tensors count in the budget
            self._segments.popitem(last=False)
        start = time.perf_counter()
        try:
            segment, why = self._build(cut)
        except Exception as exc:  # Paddle raises its own error types on a program it cannot run
            if isinstance(exc, (AttributeError, AssertionError, IndexError, KeyError, NameError, TypeError)):
                raise  # a bug here, not a program Paddle refuses
            segment, why = None, f"Paddle could not run its halves ({(str(exc).strip().splitlines() or [''])[0][:200]})"
        self.counts.setup_seconds += time.perf_counter() - start
        held = max((s for s in self._segments.values() if s.cut.index <= first), key=lambda s: s.cut.index,
                   default=None)
        if segment is None:
            self._refused.add(cut.index)
            self.counts.refused += 1
            log("sensitivity", f"the network before operator {cut.index} ({', '.join(cut.tensors)}) is not "
                               f"reused: {why}; layers behind it are evaluated on "
                               f"{'an earlier cut' if held else 'the whole network'}")
            return held
        self.counts.cuts += 1
        self._segments[cut.index] = segment
        return segment

    def _not_worth_a_cut(self, held: Segment) -> bool:
        """A new cut cannot save more than `held`'s whole back time per evaluation; building one costs
        about what building the others did."""
        setup = self.counts.setup_seconds / max(1, self.counts.cuts + self.counts.refused)
        return held.runs > 0 and held.seconds * self.per_layer <= setup

    def _build(self, cut: program_cut.Cut) -> tuple[Segment | None, str]:
        front_part, back_part = program_cut.split(self.program, self.whole.params, cut)
        front = Predictor(make_config(front_part.program, front_part.params, self.whole.settings))
        probe_front = _by_name(front, self.probe, cut)
        per_image = sum(a.nbytes for a in probe_front) / max(1, len(self.probe[0]))
        if self._images is None:
            self._images = sum(len(batch[0]) for batch in self.batches())
        images = self._images
        held = sum(a.nbytes for s in self._segments.values() for front in s.fronts for a in front)
        if held + per_image * images > self.budget:
            return None, (f"its {per_image * images / 2 ** 20:.0f} MiB of tensors, with the "
                          f"{held / 2 ** 20:.0f} MiB held for other cuts, exceed the "
                          f"{self.budget / 2 ** 20:.0f} MiB budget")
        with self.whole.predictor() as plain:
            expected = plain(self.probe)

        def reference(changed: dict[str, np.ndarray]):
            with self.whole.predictor(changed) as predictor:
                return predictor(self.probe)

        back = MaskedEvaluator.of_program(back_part.program, back_part.params, probe_front,
                                          threads=self.whole.threads, fold=self.whole.folded, reference=reference,
                                          deleted_passes=self.whole.settings.deleted_passes)
        if not back.in_place:
            return None, "the back's parameters cannot be written in place"
        with back.predictor() as plain:
            if not same_outputs(plain(probe_front), expected):
                return None, "the two halves do not give the whole network's outputs bit for bit"
        return Segment(cut, back, [_by_name(front, batch, cut) for batch in self.batches()]), ""


def _by_name(front: Predictor, feeds: list[np.ndarray], cut: program_cut.Cut) -> list[np.ndarray]:
    """The front's outputs on `feeds`, in the order of the cut's tensors (the back's inputs)."""
    out = front(feeds)
    out = out if isinstance(out, tuple) else (out,)
    named = dict(zip(front.output_names, out))
    return [named[name] for name in cut.tensors]
