"""Per-layer ratios for a latency target: a knapsack over the sensitivity and latency tables (as HALP),
then a measure-and-correct loop (as NetAdapt). Pure: no file I/O, no paddle.

The knapsack: each layer takes one ratio, 0 or one of its measured sensitivity ratios whose loss is at
most the per-layer cap (`max_layer_loss`); a ratio's value is the latency it saves (the latency table's
`saved_at`), its cost the square of its sensitivity loss (`cost`; a negative loss, noise, costs 0). The
choice saves at least the required time with the least summed cost: a dynamic programme over the required
saving cut into `STEPS` steps, each option's saving rounded down to whole steps, so the choice's predicted
saving always meets the requirement and its cost is the least up to that resolution. Squared, because
retraining recovers many small losses better than a few large ones: on the classification demo at
--target-speedup 2, summed losses chose a plan that retrained (3 epochs) to 1.7-2.5 points below the
unpruned accuracy, squared losses one that retrained to 0.8 points above it (one run each). With an alignment, every option is the aligned ratio
(`rules.align_ratios`), valued and costed at that ratio (the loss interpolated on the sensitivity curve).

The threshold plan (`plan="threshold"`, --latency-plan threshold): every layer at the largest ratio whose
loss stays within one threshold (`rules.ratio_for_loss`, the eval_metric_loss rule; rounded down to whole
channels, and with an alignment to a multiple of it kept), the smallest threshold under the cap whose plan
reaches the required saving (bisection: a higher threshold never prunes less); its cost is the threshold. The knapsack
spends loss where it buys most time, so it prunes a few layers deep; the loss it minimises is measured before
retraining, and on a detector whose retraining must recover most of it, its plans kept too little capacity:
on the bench's YOLOv3 with the backbone prunable (2026-12-07), a knapsack plan at 2.15x retrained 60 epochs to
4.44 mAP points below the unpruned control retrained alike, the eval_metric_loss 0.05 plan at about the same
speed (2.03x) to 0.35 points below it (one run each); the threshold plan at 2x (prune-train's timing, each
model timed cold; 2.15-2.36x side by side) to 2.15 points below it, and, timed with a settling run
(latency.DEFAULT_SETTLE), at 2.05x side by side to 0.40 points above it.

The loop (`reach`): choose for the target, measure the pruned model, and while it is slower than the
target, ask the tables for more saving and choose again; every iteration is recorded. The tables' savings
add up to more than layers pruned together save (a convolution whose input and output are both pruned
loses (1-a)(1-b) of its work, not 1-a-b; per-op overheads stay), so the correction is multiplicative, as
NetAdapt's is per iteration: the required saving is scaled by predicted / measured saving of the model
just measured, and never by less than the shortfall itself. A model measured well under the target (more
than SLACK) is corrected the same way in the other direction, and of the models that met the target the
one with the least cost is kept. A model meets the target only when a second, independent measurement
agrees (`confirm`): the slower of the two is what the loop judges and records, so one lucky measurement on a
noisy host (seen: the same unpruned UNet at 23 and 30.6 ms within one run, a 2.05x model that measured
1.80x side by side) cannot decide "met".

With a table fitted to whole plans, the loop also learns (`learning`): each timing joins the table's plans
(weighted LEARN_WEIGHT; a confirmed model, timed twice, counts twice) and the table is refit (its form kept)
before the next choice, so the tables correct themselves
where the knapsack looks. The knapsack seeks the layers whose fitted savings are largest for their loss, so
it favours coefficients the fit over-estimated: on UNet (bench, 2026-11-24) the models it chose measured 15-32%
slower than predicted though the fit's leave-one-out error on random plans was 4.9%; refit with the loop's
earlier models (weight 5), the next model's prediction missed by 4-12% (offline, on those measurements). After a
miss, the learning loop aims at the target scaled by what the refit still misses of the model just timed
(`learned_aim`): one timing among 40-170 plans moves the fit little, so a loop aiming at the target itself
kept timing models at the target's edge, where the slower of two noisy timings misses (the detector, 2026-12-07:
five models at 1.87-1.98x for 2x, at each of three caps). When the target cannot be reached under the cap, the
error names the layers that bound it and the best speed-up reachable.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Protocol

from slimpipe.errors import fail
from slimpipe.pruning.rules import Sensitivities, align_ratios, ratio_for_loss

# Default of --max-layer-loss: no layer may lose more than 10% of the metric (relative, before retraining),
# twice the pipeline's default eval_metric_loss; the knapsack already spends loss where it buys most time,
# the cap only keeps any one layer from being wrecked for the target.
DEFAULT_MAX_LAYER_LOSS = 0.1
DEFAULT_ITERATIONS = 5  # choices measured before the loop gives up (a confirmation is not counted)
STEPS = 4000  # resolution of the knapsack: the required saving in this many steps
TIE = 1e-9  # per unit of ratio: at equal loss, the knapsack prunes less
NAMED = 6  # bounding layers named in an error, the most constraining first
SLACK = 0.05  # a model measured this much under the target is pruned too far: the loop tries a lighter one
LEARN_WEIGHT = 5.0  # each timing the loop takes counts as this many random plans when the table is refit
FALLBACKS = 8  # while learning: lower aims tried when the refit tables answer with a model already measured
BISECTIONS = 60  # halvings of the loss threshold in a threshold plan (far below any measured loss difference)

# How the ratios for a latency target are spread over the layers (--latency-plan; the module doc): the least
# summed squared loss, or one loss threshold for every layer (the eval_metric_loss rule aimed at latency)
PLANS = ("knapsack", "threshold")
DEFAULT_PLAN = "knapsack"


class LatencyTableLike(Protocol):
    """What the knapsack reads of a latency table: per-layer terms, summed over a plan. A table may also
    say how summed terms make a saving (`saved_of`, `terms_for`, as LatencyTable does); one that does not
    is additive (the terms are the milliseconds saved)."""

    base_ms: float

    def saved_at(self, layer: str, ratio: float) -> float: ...


@dataclass(frozen=True)
class Option:
    ratio: float
    saved_ms: float  # the table's term (milliseconds saved alone, in an additive table)
    loss: float


@dataclass
class Choice:
    """Per-layer ratios with their predicted latency. `reached`: the predicted saving meets `required_ms`
    (when not, this is the most the loss cap allows). `bounding`: the layers at their largest ratio under
    the cap, the most constraining first."""

    ratios: dict[str, float]
    saved_ms: float
    loss: float
    base_ms: float
    required_ms: float
    reached: bool
    max_layer_loss: float
    bounding: list[str] = field(default_factory=list)
    cost: float = 0.0  # what the plan minimised: the summed cost_of of the layers' losses (knapsack), or the
    # loss threshold (threshold)

    @property
    def predicted_ms(self) -> float:
        return self.base_ms - self.saved_ms


def cost_of(loss: float) -> float:
    """What the knapsack minimises for one layer: its sensitivity loss squared (noise below 0 costs 0)."""
    return max(loss, 0.0) ** 2


def loss_at(losses: dict[float, float], ratio: float) -> float | None:
    """Sensitivity loss at `ratio`, linear between measured ratios and from 0 at ratio 0; None beyond the
    largest measured ratio (unknown)."""
    if ratio <= 0:
        return 0.0
    if ratio in losses:
        return losses[ratio]
    points = [(0.0, 0.0)] + sorted(losses.items())
    for (r0, l0), (r1, l1) in zip(points, points[1:]):
        if r0 <= ratio <= r1:
            return l0 + (ratio - r0) * (l1 - l0) / (r1 - r0)
    return None


def check_plan(plan: str) -> str:
    if plan not in PLANS:
        raise fail(f"latency plan {plan!r}: choose one of {', '.join(PLANS)}")
    return plan


class Knapsack:
    """The options of every layer, from the two tables; `choose(aim_ms)` picks ratios whose predicted
    latency is at most `aim_ms`: with the least summed cost (`cost_of` each layer's loss; plan "knapsack"),
    or at the least loss threshold applied to every layer (plan "threshold", `ratio_for_loss`)."""

    def __init__(self, sensitivities: Sensitivities, table: LatencyTableLike, max_layer_loss: float,
                 channels: dict[str, int], align: int | None = None, plan: str = DEFAULT_PLAN):
        self.plan = check_plan(plan)
        self.table, self.cap, self.base_ms = table, max_layer_loss, float(table.base_ms)
        self.sensitivities, self.channels, self.align = sensitivities, channels, align
        self.saved_of = getattr(table, "saved_of", lambda terms: terms)
        self.terms_for = getattr(table, "terms_for", lambda saved: saved)
        self.options: dict[str, list[Option]] = {}
        self.blocked: dict[str, float] = {}  # layer -> ms its next ratio over the cap would add
        for layer, losses in sensitivities.items():
            opts: dict[float, Option] = {}
            refused: list[float] = []
            for ratio in sorted(losses):
                aligned = align_ratios({layer: ratio}, channels, align).get(layer, 0.0)
                if aligned <= 0 or int(round(channels[layer] * aligned)) >= channels[layer]:
                    continue
                loss = loss_at(losses, aligned)
                if loss is None:  # aligned beyond the largest measured ratio: its loss is unknown
                    continue
                if loss > max_layer_loss:
                    refused.append(aligned)
                    continue
                saved = float(table.saved_at(layer, aligned))
                if saved > 0 and aligned not in opts:
                    opts[aligned] = Option(aligned, saved, loss)
            self.options[layer] = sorted(opts.values(), key=lambda o: o.ratio)
            top = max((o.ratio for o in self.options[layer]), default=0.0)
            beyond = [r for r in refused if r > top]
            if beyond:
                self.blocked[layer] = float(table.saved_at(layer, min(beyond))) - (
                    float(table.saved_at(layer, top)) if top else 0.0)

    def rebuilt(self, table: LatencyTableLike | None = None) -> "Knapsack":
        """The same layers and cap, valued by `table` (default its own) as it is now (after a refit)."""
        return Knapsack(self.sensitivities, table or self.table, self.cap, self.channels, self.align, self.plan)

    def most(self, required_ms: float = math.inf) -> Choice:
        """The most the cap allows: every layer at the option that saves most (knapsack), or at the cap as
        the threshold (threshold)."""
        if self.plan == "threshold":
            return self._choice(self._at_threshold(self.cap), required_ms, cost=self.cap)
        picks = {layer: max(opts, key=lambda o: (o.saved_ms, -o.ratio)) for layer, opts in self.options.items()
                 if opts}
        return self._choice(picks, required_ms)

    def choose(self, aim_ms: float, step_ms: float | None = None) -> Choice:
        """Ratios whose predicted latency (base_ms - saved) is at most `aim_ms`, with the least summed
        cost (knapsack) or at the least threshold (threshold); `reached` is False (and the choice is
        `most()`) when the cap does not allow it."""
        required = self.base_ms - aim_ms
        if required <= 0:
            return self._choice({}, required)
        limit = self.most(required)
        if not limit.reached:
            return limit
        terms = self.terms_for(required)  # the knapsack adds the table's terms
        if self.plan == "threshold":
            return self._threshold(terms, required)
        picks = self._knapsack(terms, step_ms or terms / STEPS)
        return self._choice(picks, required) if picks is not None else limit

    def _at_threshold(self, threshold: float) -> dict[str, Option]:
        """Every layer at the largest ratio whose loss stays within `threshold` (`ratio_for_loss`), rounded
        down to whole channels, and with an alignment to the next multiple of `align` channels kept, so
        that a higher threshold never prunes less and equal models are equal ratios; a layer whose
        rounded ratio (a curve that is not monotone) still loses more than the cap steps down its grid."""
        picks = {}
        for layer, losses in self.sensitivities.items():
            n, step = self.channels[layer], max(1, self.align or 1)
            pruned = int(math.floor(ratio_for_loss(losses, threshold) * n + 1e-9))
            kept = min(n, int(math.ceil((n - pruned) / step)) * step)
            while kept < n:
                ratio = (n - kept) / n
                loss = loss_at(losses, ratio)
                if loss is not None and loss <= self.cap:
                    saved = float(self.table.saved_at(layer, ratio))
                    if saved > 0:
                        picks[layer] = Option(ratio, saved, loss)
                    break
                kept += step
        return picks

    def _threshold(self, terms: float, required: float) -> Choice:
        """The least threshold (within the cap) whose plan's summed terms reach `terms`, by bisection."""
        def reaches(threshold: float) -> bool:
            return _meets(sum(o.saved_ms for o in self._at_threshold(threshold).values()), terms)

        low, high = 0.0, self.cap  # reaches(high): most() reached
        for _ in range(BISECTIONS):
            middle = (low + high) / 2
            if reaches(middle):
                high = middle
            else:
                low = middle
        return self._choice(self._at_threshold(high), required, cost=high)

    def _knapsack(self, required: float, step: float) -> dict[str, Option] | None:
        import numpy as np

        units = int(math.ceil(required / step - 1e-9))
        cost = np.full(units + 1, np.inf)
        cost[0] = 0.0  # cost[s]: least cost that saves at least s steps with the layers so far
        index = np.arange(units + 1)
        trail = []
        for layer, opts in self.options.items():
            if not opts:
                continue
            best, arg = cost.copy(), np.zeros(units + 1, np.int16)  # option 0: ratio 0, no saving, no loss
            for k, opt in enumerate(opts, start=1):
                width = min(units, int(math.floor(opt.saved_ms / step + 1e-6)))
                candidate = cost[np.maximum(index - width, 0)] + cost_of(opt.loss) + TIE * opt.ratio
                better = candidate < best
                best[better], arg[better] = candidate[better], k
            trail.append((layer, opts, arg))
            cost = best
        if not math.isfinite(cost[units]):
            return None
        picks, s = {}, units
        for layer, opts, arg in reversed(trail):
            k = int(arg[s])
            if k:
                opt = opts[k - 1]
                picks[layer] = opt
                s = max(0, s - min(units, int(math.floor(opt.saved_ms / step + 1e-6))))
        return picks

    def _choice(self, picks: dict[str, Option], required: float, cost: float | None = None) -> Choice:
        """`required`: milliseconds; the choice's saving is in milliseconds too (from the summed terms).
        `cost`: what the plan minimised, where not the summed cost_of (the threshold plan's threshold, whose
        layers the cap bounds only once the threshold is the cap)."""
        terms = sum(o.saved_ms for o in picks.values())
        saved = self.saved_of(terms)
        if cost is not None:
            bounding = list(self.blocked) if cost >= self.cap else []
        else:
            bounding = [layer for layer in self.blocked
                        if (picks[layer].ratio if layer in picks else 0.0)
                        == max((o.ratio for o in self.options[layer]), default=0.0)]
        bounding.sort(key=lambda layer: -self.blocked[layer])
        return Choice(ratios={layer: o.ratio for layer, o in picks.items()}, saved_ms=saved,
                      loss=sum(o.loss for o in picks.values()),
                      cost=sum(cost_of(o.loss) for o in picks.values()) if cost is None else cost,
                      base_ms=self.base_ms, required_ms=required,
                      reached=_meets(terms, self.terms_for(required)),
                      max_layer_loss=self.cap, bounding=bounding)


def _meets(saved: float, required: float) -> bool:
    """`saved` >= `required`, up to rounding (the required saving is a difference of latencies)."""
    return saved >= required - 1e-9 * max(1.0, abs(required))


@dataclass
class Outcome:
    """What `reach` found: the ratios that met the target, their predicted and measured latency, and every
    iteration (iteration, required_saving_ms, predicted_ms, measured_ms, layers_pruned, loss, cost, at_limit: the
    choice was the most the cap allows, short of the required saving; realized, met, measurements_ms, and the
    ratios measured)."""

    ratios: dict[str, float]
    predicted_ms: float
    measured_ms: float
    iterations: list[dict]
    chosen: int = 0  # the iteration (from 1) whose ratios these are: the least cost among those that met the target


def reach(target_ms: float, choose: Callable[[float], Choice], measure: Callable[[dict[str, float]], float],
          max_iterations: int = DEFAULT_ITERATIONS, target_text: str | None = None,
          first_aim_ms: float | None = None, tolerance: float = 0.0, confirm: bool = True,
          learning: bool = False, predict: Callable[[dict[str, float]], float] | None = None) -> Outcome:
    """Choose ratios for `target_ms` (`choose(aim_ms)`, e.g. Knapsack.choose), measure them
    (`measure(ratios)` -> ms) and correct until the measured latency is at most the target (`next_required`).
    `target_text` names the target in errors (default: its milliseconds); `first_aim_ms` is the first aim
    where the tables already know their additive prediction runs optimistic (`first_aim`), else the target.
    `tolerance`: the tables' known relative error; the most the cap allows is still measured where its
    predicted latency is within that much of the target, rather than refused unmeasured. `confirm`: a
    choice that measured at or under the target is measured once more, and the slower of the two is judged
    (each iteration records both in `measurements_ms`). `learning`: `measure` also teaches the tables what it
    measured (the caller refits them, `choose` then answers from the refit), so after each measurement the
    loop aims at the target itself rather than scaling the required saving (which would correct twice):
    scaled, given `predict(ratios)` (the refit tables' latency for a measured model,
    LatencyTable.predicted_ms), by that prediction over the measurement (`learned_aim`), so that what the
    refit has not learned (a timing on the slow side of the noise, which the slower-of-two confirmation
    favours) is still corrected. Where the refit tables still answer with a model already measured too slow,
    the loop asks for more as the scaling would (and for at least the share that model missed the target
    by), until they answer with one not yet measured (at most FALLBACKS times). The target, the aims and
    the measurements are in one time: the tables'."""
    if max_iterations < 1:
        raise fail(f"max_iterations {max_iterations}: must be at least 1")
    text = target_text or f"{target_ms:.3f} ms"
    iterations: list[dict] = []
    measured_choices: list[dict[str, float]] = []
    aim, choice = (target_ms if first_aim_ms is None else first_aim_ms), None
    passing: list[tuple[Choice, float, int]] = []  # measured at or under the target
    for i in range(1, max_iterations + 1):
        choice = choose(aim)
        for _ in range(FALLBACKS):
            if not (learning and not passing and choice.reached and choice.ratios in measured_choices):
                break
            # The refit still prefers a model measured too slow: ask for more as the scaling would, and at
            # least by the share that model missed the target by, so the aim falls strictly and repeats end
            seen = iterations[measured_choices.index(choice.ratios)]["measured_ms"]
            aim = min(choice.base_ms - next_required(choice, seen, target_ms), aim * target_ms / seen)
            choice = choose(aim)
        if learning and not passing and choice.reached and choice.ratios in measured_choices:
            break  # the fallbacks ran out on models already timed: stop rather than time one again
        if passing and (choice.ratios in measured_choices or not choice.reached
                        or choice.cost > min(p[0].cost for p in passing)):
            break  # nothing lighter left to try (a costlier model would not be kept)
        # Out of reach without a measurement only where the tables say so of the target itself; an aim
        # moved beyond reach (first_aim, a correction) still measures the most the cap allows, once.
        close = choice.predicted_ms <= target_ms * (1 + tolerance)  # short only by the tables' own error
        if not choice.reached and (aim == target_ms and not iterations and not close
                                   or choice.ratios in measured_choices):
            raise cannot_reach(text, target_ms, choice, iterations)
        measurements = [float(measure(dict(choice.ratios)))]
        if confirm and measurements[0] <= target_ms:
            measurements.append(float(measure(dict(choice.ratios))))
        measured = max(measurements)  # met only if every measurement met
        measured_choices.append(dict(choice.ratios))
        iterations.append({"iteration": i, "required_saving_ms": choice.required_ms,
                           "predicted_ms": choice.predicted_ms, "measured_ms": measured,
                           "layers_pruned": len(choice.ratios), "loss": choice.loss, "cost": choice.cost,
                           "at_limit": not choice.reached,
                           "realized": realized(choice, measured), "met": measured <= target_ms,
                           "measurements_ms": measurements, "ratios": dict(choice.ratios)})
        if measured <= target_ms:
            passing.append((choice, measured, i))
        if passing:
            # Well under the target (the correction overshot): try a lighter model, between the lightest
            # that met the target and the heaviest lighter one that missed it where both were measured
            if max(measured_at for _, measured_at, _ in passing) >= target_ms * (1 - SLACK):
                break  # the lightest that met the target is close enough to it
            if learning:  # the refit tables know this model saved more than they predicted
                aim = target_ms
                continue
            between = secant(iterations, target_ms, choice.base_ms)
            required = between if between is not None else next_required(choice, measured, target_ms)
            if between is None and (measured > target_ms or not required < choice.saved_ms):
                break
            aim = choice.base_ms - required
            continue
        if not choice.reached:
            raise cannot_reach(text, target_ms, choice, iterations)
        if learning:
            aim = learned_aim(target_ms, predict(choice.ratios), measured) if predict else target_ms
        else:
            aim = choice.base_ms - next_required(choice, measured, target_ms)
    if passing:
        kept, measured, i = min(passing, key=lambda p: (p[0].cost, p[1]))
        return Outcome(dict(kept.ratios), kept.predicted_ms, measured, iterations, chosen=i)
    best = min(iterations, key=lambda it: it["measured_ms"])
    raise fail(f"{text}: not reached after {len(iterations)} iterations; the fastest measured was "
               f"{best['measured_ms']:.3f} ms ({choice.base_ms / best['measured_ms']:.2f}x, iteration "
               f"{best['iteration']}, predicted {best['predicted_ms']:.3f} ms)"
               + _bounding_text(choice.bounding, choice.max_layer_loss, at_limit=False)
               + "; raise --max-layer-loss or aim lower")


def learned_aim(target_ms: float, refit_ms: float, measured_ms: float) -> float:
    """The aim after a model measured `measured_ms` (over the target) and the refit tables now predict it at
    `refit_ms`: the target scaled by what the refit still misses of that model (the target itself when it
    learned all of it, never above the target)."""
    return target_ms * min(1.0, refit_ms / measured_ms)


def secant(iterations: list[dict], target_ms: float, base_ms: float) -> float | None:
    """The saving (as the tables predict it, in ms) to ask for next, interpolated linearly between the
    lightest measured model that met the target and the heaviest lighter one that missed it (by the
    tables' predicted savings); None where no such pair was measured, they measured alike, or the
    interpolation falls outside them."""
    def saving(it: dict) -> float:
        return base_ms - it["predicted_ms"]

    met = [it for it in iterations if it["met"]]
    if not met:
        return None
    light = min(met, key=saving)
    missed = [it for it in iterations if not it["met"] and saving(it) < saving(light)]
    if not missed:
        return None
    heavy = max(missed, key=saving)
    if heavy["measured_ms"] <= light["measured_ms"]:
        return None  # noise: the lighter model measured as fast
    x0, x1 = saving(heavy), saving(light)
    x = x0 + (heavy["measured_ms"] - target_ms) * (x1 - x0) / (heavy["measured_ms"] - light["measured_ms"])
    return x if x0 < x < x1 else None


def first_aim(base_ms: float, target_ms: float, share: float) -> float:
    """The first aim in the tables' additive terms when a whole plan is known to keep `share` of its summed
    single-layer savings (LatencyTable.share_together): the needed saving over that share. A share that is
    not positive (noise) leaves the aim at the target."""
    return target_ms if share <= 0 else base_ms - (base_ms - target_ms) / share


def realized(choice: Choice, measured_ms: float) -> float | None:
    """The share of the tables' predicted saving that the measured model saved (None when nothing was
    predicted)."""
    return (choice.base_ms - measured_ms) / choice.saved_ms if choice.saved_ms > 0 else None


def next_required(choice: Choice, measured_ms: float, target_ms: float) -> float:
    """The saving (in the tables' additive terms) to ask for after `choice` measured `measured_ms` against
    `target_ms`: the needed saving (base - target) scaled by predicted / measured saving, and at least
    the predicted saving plus the shortfall (a negative shortfall when the model was faster than needed). A model that measured no saving at all asks for everything
    (the knapsack then answers with the most the cap allows)."""
    shortfall = measured_ms - target_ms
    additive = choice.saved_ms + shortfall
    share = realized(choice, measured_ms)
    if share is None or share <= 0:
        return math.inf
    return max(additive, (choice.base_ms - target_ms) / share)


def cannot_reach(text: str, target_ms: float, limit: Choice, iterations: list[dict] | None = None) -> Exception:
    """The target is out of reach under the cap: the best speed-up, measured if any choice was measured,
    else as the tables predict it, and the layers that bound it."""
    if iterations:  # measured
        best = min(iterations, key=lambda it: it["measured_ms"])
        figure = (f"{limit.base_ms / best['measured_ms']:.2f}x measured ({best['measured_ms']:.3f} ms against "
                  f"the table's unpruned {limit.base_ms:.3f} ms, iteration {best['iteration']})")
    else:
        figure = (f"{limit.base_ms / limit.predicted_ms:.2f}x predicted by the latency table "
                  f"({limit.predicted_ms:.3f} ms against its unpruned {limit.base_ms:.3f} ms, "
                  f"{len(limit.ratios)} layers pruned)")
    return fail(f"{text} cannot be reached under --max-layer-loss {limit.max_layer_loss:g} "
                f"({limit.base_ms / target_ms:.2f}x, {target_ms:.3f} ms): the best reachable is {figure}"
                + _bounding_text(limit.bounding, limit.max_layer_loss)
                + ("; raise --max-layer-loss or aim lower" if limit.bounding else
                   "; a larger cap cannot help: make more layers prunable (a detector's backbone: model option "
                   "prune_backbone) or aim lower"))


def _bounding_text(bounding: list[str], cap: float, at_limit: bool = True) -> str:
    if not bounding:
        return ("; no layer is bounded by the loss cap: every layer is at its largest measured ratio" if at_limit
                else "; no layer was yet at its largest ratio under the loss cap")
    named = ", ".join(bounding[:NAMED]) + (f" and {len(bounding) - NAMED} more" if len(bounding) > NAMED else "")
    return f"; bounded by layers at their largest ratio under loss {cap:g}: {named}"
