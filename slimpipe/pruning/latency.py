"""Per-layer latency table: the milliseconds the whole exported model saves when a layer is structurally
pruned at each ratio, on given predictor settings (the benchmark's by default).

Two methods fill it (`method`):
- "plans" (the default): time random whole pruning plans (many layers at once, at mixed ratios, and every
  layer at a few uniform ratios) against the unpruned model, then fit each layer's saving as a r + b r^2 of
  its ratio r (non-negative least squares, lightly ridged) so that the layers' savings add up to the plans'
  measured savings. A whole plan saves 20-70% of the latency, far above the noise of a shared machine (the
  median of 30-40 paired rounds varies by about 3%), where one layer pruned alone saves 0.5-5%, inside it;
  and the fit learns how much single layers' savings overlap when pruned together. On the demo MobileNetV2
  it predicted held-out plans within 2-3% mean error (every one within 10%), where summing single-layer
  differences erred by 13% on average and up to 57%. `fit` records the plans' leave-one-out error.
- "layers": time each layer pruned alone at each ratio (NetAdapt's table), for quiet machines where single
  savings stand out of the noise.

The file is plain JSON (never pickle), written atomically after every plan or layer so an interrupted run
resumes where it stopped:
    {"format", "task", "arch", "fingerprint", "settings": {device, mkldnn, threads, batch, input_size},
     "rounds", "repeats", "settle", "base_ms", "base_spread_ms", "layer_base_ms": {layer: ms}, "ratios",
     "saved": {layer: {"0.2": ms, ...}}, "spread": {layer: {"0.2": ms, ...}}, "layers", "all_layers",
     "shard": [i, n] | null, "complete", "evaluations", "seconds", "rewritten", "host",
     "base_flops", "flops_per_channel": {layer: FLOPs},
     "together": {"0.5": ms}, "together_spread": {"0.5": ms}, "together_flops": {"0.5": FLOPs},
     "method": "plans" | "layers", "seed", "plan_count",
     "plans": [{"index", "ratios": {layer: ratio}, "saved_frac", "spread_frac", "base_ms"}],
     "fit": {"plans", "loo_mean_error", "loo_max_error", "rms_frac"}}

Method "plans": each plan's `saved_frac` is 1 - the median over alternating rounds of pruned / unpruned
latency (`latency_ratio`), `base_ms` the unpruned median beside it; `apply_fit` tabulates `saved` at
`ratios` from the fit, `spread` being the fit's residual root mean square in ms. Prediction is the plain
sum (the fit already holds the overlap). Shards time every n-th plan from the i-th; `merge` joins their
plans and fits once.

Noise control (slimpipe/pruning/timing.py), method "layers": each pruned predictor runs in rounds
alternating with the unpruned one, one pair at a time; `saved` is the median over rounds of (base round median - pruned round
median), so that drift in the machine's speed cancels within a round, and `spread` is the interquartile
range of those differences. A saving may be slightly negative (noise). `base_ms` is the median of the
unpruned model's latency over the layers' rounds (`layer_base_ms`), `base_spread_ms` their interquartile
range.

Prediction (`LatencyTable.predicted_ms`), method "layers", is additive: base_ms minus each pruned layer's saving, linearly
interpolated between measured ratios; given the FLOPs the whole plan removes, the summed saving is scaled
by how much single-layer savings overlap (`interaction`), and by `calibration`: `together` holds the
saving of every layer pruned at once at each ratio, measured in the same alternating rounds, so the table
knows how much of its summed single-layer savings a whole plan keeps on this machine beyond what the FLOPs
overlap explains (per-op overheads, and the noise of small single-layer savings). Shards: `shard` [i, n]
measures every n-th layer from the i-th, as the sensitivity analysis does (shard 0 also measures
`together`); `merge` joins complete shards.

No paddle import here: prune-train and the report read tables without loading the framework.
"""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from slimpipe import atomic
from slimpipe.errors import fail
from slimpipe.pruning.sensitivity import ratio_key

FORMAT = "slimpipe.latency/1"
# One ratio by default: a single layer's FLOPs fall exactly linearly with the channels it loses and its latency
# nearly so, while one layer saves little (0.1 to 0.7 ms of the demo MobileNetV2's 8 to 18 ms), about as
# much as the noise of one measurement on a shared 2-core machine. There, at equal cost, one ratio with more
# rounds predicted multi-layer plans as well as 2 or 3 ratios (mean errors 10-16% against 12-24%, with the
# FLOPs interaction); saved_at is then proportional to the ratio. Give --ratios for a finer grid where the
# machine is quiet.
DEFAULT_RATIOS = (0.5,)
# Method "plans": the ratios plans draw from (and at which `saved` is tabulated from the fit), the uniform plans
# that come first, and how many plans in all by default (as many as the fit's unknowns, two per layer, and the
# uniform ones; at least 40: 40 plans predicted the demo MobileNetV2's 24 layers within 2-3%).
METHODS = ("plans", "layers")
DEFAULT_METHOD = "plans"
PLAN_RATIOS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
UNIFORM_RATIOS = (0.3, 0.5, 0.7, 0.9)
MIN_PLANS = 40
FIT_FORMS = ("additive", "multiplicative")  # how a plan's per-layer terms make its latency (fit_plans)
RIDGE = 1e-2  # the fit's ridge on each coefficient (the plans' savings are fractions of the latency, 0..1)
DEFAULT_ROUNDS = 30   # alternating rounds of the base and one pruned predictor (pairs of runs) per ratio
DEFAULT_REPEATS = 1   # timed run() calls per predictor and round: single runs pair most closely in time
# Untimed run() calls of each predictor before its timed ones in every round. The first run after the other
# model ran finds its own weights out of cache, which costs a small model a larger share of its time: on
# 2026-12-07 (bench/studies/repeats.py, saved models) the pruned YOLOv3 read 2.02x timed cold, 2.10-2.11x
# after one settling run and 2.12-2.16x at 10 timed runs per round (10x the cost), the benchmark (warm, as a
# server runs) more. Tables written before it existed record 0, and prune-train times as its table did.
DEFAULT_SETTLE = 1
SETTING_KEYS = ("device", "mkldnn", "threads", "batch", "input_size")
# What must agree for a file to be resumed, or for shards to be merged: the same measurement of the same model.
RUN_KEYS = ("task", "arch", "fingerprint", "settings", "rounds", "repeats", "settle", "shard", "method", "seed",
            "plan_count")


def default_plan_count(layers: int) -> int:
    """Plans timed by default for a model with `layers` prunable layers."""
    return max(MIN_PLANS, 2 * layers + len(UNIFORM_RATIOS))


def settings_of(settings, batch: int, input_size: list[int]) -> dict[str, Any]:
    """What a table records of how it was measured, from a slimpipe.inference.PredictorSettings."""
    return {"device": settings.device, "mkldnn": bool(settings.mkldnn), "threads": int(settings.threads),
            "batch": int(batch), "input_size": [int(v) for v in input_size]}


def describe(settings: dict[str, Any]) -> str:
    """`cpu, MKLDNN off, 1 thread(s), batch 1, 64x64` for logs and errors."""
    return (f"{settings['device']}, MKLDNN {'on' if settings['mkldnn'] else 'off'}, {settings['threads']} "
            f"thread(s), batch {settings['batch']}, {'x'.join(map(str, settings['input_size']))}")


def spread(values: list[float]) -> float:
    """Interquartile range (0 for fewer than two values)."""
    if len(values) < 2:
        return 0.0
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return float(q3 - q1)


def _paired(name: str, base_samples: list[float], pruned_samples: list[float], of) -> tuple[float, float]:
    """(median, interquartile range) over paired rounds of of(base, pruned)."""
    if len(base_samples) != len(pruned_samples) or not base_samples:
        raise ValueError(f"{name} needs the same non-zero number of base and pruned rounds")
    values = [of(b, p) for b, p in zip(base_samples, pruned_samples)]
    return float(statistics.median(values)), spread(values)


def saving(base_samples: list[float], pruned_samples: list[float]) -> tuple[float, float]:
    """(median, interquartile range) of the paired round differences base - pruned, in ms."""
    return _paired("saving", base_samples, pruned_samples, lambda b, p: b - p)


def latency_ratio(base_samples: list[float], pruned_samples: list[float]) -> tuple[float, float]:
    """(median, interquartile range) over paired rounds of pruned / base latency: steadier than the ratio of
    the two medians on a noisy machine (measured: 2.4% against 3.1% standard deviation at 40 rounds)."""
    return _paired("latency_ratio", base_samples, pruned_samples, lambda b, p: p / b)


def random_plans(channels: dict[str, int], count: int, seed: int,
                 ratios: tuple[float, ...] = PLAN_RATIOS) -> list[dict[str, float]]:
    """`count` pruning plans for method "plans", the same for the same arguments: every layer at each of
    UNIFORM_RATIOS first, then random plans that prune a random share of the layers (30-100%) at ratios
    scattered around a random level (0.1-0.9), so that plans of every size, and every layer at several ratios,
    are seen. A ratio that would leave a layer with no channel removed, or none kept, is skipped."""
    import random

    def allowed(layer: str, ratio: float) -> bool:
        return 0 < round(channels[layer] * ratio) < channels[layer]

    rng = random.Random(seed)
    plans = [{layer: r for layer in channels if allowed(layer, r)} for r in UNIFORM_RATIOS][:count]
    while len(plans) < count:
        level, share = rng.uniform(0.1, 0.9), rng.uniform(0.3, 1.0)
        plan = {}
        for layer in channels:
            if rng.random() < share:
                ratio = min(ratios, key=lambda r: abs(r - rng.gauss(level, 0.2)))
                if allowed(layer, ratio):
                    plan[layer] = ratio
        if plan:
            plans.append(plan)
    return plans


def fit_plans(plans: list[dict[str, Any]], layers: list[str], ridge: float = RIDGE,
              form: str = "additive", leave_one_out: bool = True
              ) -> tuple[dict[str, tuple[float, float]], dict[str, float]]:
    """Per-layer coefficients (a, b) of a plan's terms sum(a r + b r^2), fitted to the measured plans
    ({"ratios", "saved_frac"}) by non-negative least squares with a ridge; and the fit's quality:
    leave-one-out errors of the predicted latency against the measured, mean and largest, and the
    residuals' root mean square (of the saved fraction). `form` (FIT_FORMS): "additive", the terms are the
    saved fraction of the latency (latency = 1 - terms); "multiplicative", each layer keeps a share of
    the latency (latency = exp(-terms)), which suits a network whose layers' savings compound."""
    import numpy as np
    from scipy.optimize import nnls

    x = np.array([[p["ratios"].get(layer, 0.0) ** k for layer in layers for k in (1, 2)] for p in plans], float)
    saved = np.array([p["saved_frac"] for p in plans], float)
    y = saved if form == "additive" else -np.log(np.maximum(1.0 - saved, 1e-6))
    weight = np.sqrt(np.array([p.get("weight", 1.0) for p in plans], float))  # rows scaled: weighted squares
    x, y = x * weight[:, None], y * weight

    def latency(terms: np.ndarray) -> np.ndarray:
        return 1.0 - terms if form == "additive" else np.exp(-terms)

    def solve(rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
        n = rows.shape[1]
        return nnls(np.vstack([rows, math.sqrt(ridge) * np.eye(n)]), np.r_[targets, np.zeros(n)],
                    maxiter=50 * n)[0]

    w = solve(x, y)
    errors = []  # leave-one-out (skipped where not asked for: the errors then read 0)
    for i in range(len(y) if leave_one_out else 0):
        keep = np.arange(len(y)) != i
        predicted = float(latency(x[i] / weight[i] @ solve(x[keep], y[keep])))
        errors.append(abs(predicted - (1.0 - saved[i])) / max(1.0 - saved[i], 1e-6))
    quality = {"plans": len(plans), "form": form, "loo_mean_error": float(np.mean(errors)) if errors else 0.0,
               "loo_max_error": float(np.max(errors)) if errors else 0.0,
               "rms_frac": float(np.sqrt(np.mean((1.0 - latency(x / weight[:, None] @ w) - saved) ** 2)))
               if len(y) else 0.0}
    return {layer: (float(w[2 * i]), float(w[2 * i + 1])) for i, layer in enumerate(layers)}, quality


def base_from_plans(table: "LatencyTable") -> None:
    """base_ms and base_spread_ms: the median and interquartile range of the unpruned model's latency timed
    beside each measured plan."""
    bases = [p["base_ms"] for p in table.plans]
    table.base_ms, table.base_spread_ms = float(statistics.median(bases)), spread(bases)


def apply_fit(table: "LatencyTable", refit: bool = False) -> None:
    """Fill `saved` (the fit's terms in ms: base_ms times a layer's terms at each of the table's ratios;
    real milliseconds saved in the additive form) and `spread` (the fit's residual RMS in ms) for every
    layer from its measured plans, `base_ms` from the plans' base medians, and `fit` with the quality of
    the form (FIT_FORMS) whose leave-one-out error is least, and every form's mean error. `refit`: plans
    were added to a fitted table (prune-train's loop): its form is kept, and its leave-one-out errors, which
    describe the table's own plans, are not recomputed."""
    layers = list(table.all_layers)
    if refit:
        coefficients, quality = fit_plans(table.plans, layers, form=table.form, leave_one_out=False)
        quality = dict(table.fit, plans=quality["plans"], rms_frac=quality["rms_frac"])
    else:
        fits = {form: fit_plans(table.plans, layers, form=form) for form in FIT_FORMS}
        coefficients, quality = min(fits.values(), key=lambda f: f[1]["loo_mean_error"])
        quality = dict(quality, forms={form: f[1]["loo_mean_error"] for form, f in fits.items()})
    base_from_plans(table)
    rms_ms = quality["rms_frac"] * table.base_ms
    table.saved = {layer: {r: table.base_ms * (a * r + b * r * r) for r in table.ratios
                           if 0 < round(table.all_layers[layer] * r) < table.all_layers[layer]}
                   for layer, (a, b) in coefficients.items()}
    table.spread = {layer: {r: rms_ms for r in values} for layer, values in table.saved.items()}
    table.layers = dict(table.all_layers)
    table.fit = quality


@dataclass
class LatencyTable:
    task: str
    arch: str
    fingerprint: str
    settings: dict[str, Any]
    base_ms: float
    base_spread_ms: float
    ratios: list[float]
    saved: dict[str, dict[float, float]]
    spread: dict[str, dict[float, float]]
    layers: dict[str, int]
    all_layers: dict[str, int]
    shard: list[int] | None
    complete: bool
    evaluations: int
    seconds: float
    rounds: int = DEFAULT_ROUNDS
    repeats: int = DEFAULT_REPEATS
    settle: int = 0  # tables written before it existed timed each round's first run cold
    layer_base_ms: dict[str, float] = field(default_factory=dict)
    rewritten: bool | None = None  # pruned programs derived from the base's (proven), or each one exported
    base_flops: int = 0
    flops_per_channel: dict[str, float] = field(default_factory=dict)  # FLOPs one removed channel saves, by layer
    host: dict[str, Any] = field(default_factory=dict)
    # ms saved with every layer of `all_layers` pruned at the ratio at once, their IQR, and the FLOPs removed
    together: dict[float, float] = field(default_factory=dict)
    together_spread: dict[float, float] = field(default_factory=dict)
    together_flops: dict[float, float] = field(default_factory=dict)
    method: str = "layers"  # tables written before method "plans" existed measured layers alone
    seed: int = 0
    plan_count: int = 0  # plans in the whole measurement (a shard times every n-th of them)
    plans: list[dict[str, Any]] = field(default_factory=list)
    fit: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT

    @property
    def fitted(self) -> bool:
        """`saved` was fitted to whole plans: it already holds how layers' savings overlap."""
        return self.method == "plans"

    @property
    def form(self) -> str:
        """How per-layer terms (`saved`, `saved_at`) make a plan's latency (FIT_FORMS): summed and
        subtracted from base_ms ("additive"; every table not fitted to plans), or base_ms * exp(-sum /
        base_ms) ("multiplicative")."""
        return self.fit.get("form", "additive") if self.fitted else "additive"

    def saved_of(self, terms_ms: float) -> float:
        """The milliseconds saved by a plan whose layers' terms (`saved_at`) sum to `terms_ms`."""
        if self.form == "multiplicative":
            return self.base_ms * -math.expm1(-terms_ms / self.base_ms)
        return terms_ms

    def terms_for(self, saved_ms: float) -> float:
        """The summed terms a plan needs to save `saved_ms` (the inverse of saved_of; inf for all of it)."""
        if self.form == "multiplicative":
            kept = 1.0 - saved_ms / self.base_ms
            return -self.base_ms * math.log(kept) if kept > 0 else math.inf
        return saved_ms

    def saved_alone(self, layer: str, ratio: float) -> float:
        """Milliseconds saved by pruning `layer` alone at `ratio`."""
        return self.saved_of(self.saved_at(layer, ratio))

    def saved_at(self, layer: str, ratio: float) -> float:
        """The table's term for `layer` at `ratio` in ms (`form`: in the additive form the milliseconds
        saved by pruning it alone): linear between measured ratios, from 0 at ratio 0; past the largest
        measured ratio, in proportion to it; 0 for a layer the table lacks."""
        points = sorted(self.saved.get(layer, {}).items())
        if ratio <= 0 or not points:
            return 0.0
        xs, ys = [0.0] + [r for r, _ in points], [0.0] + [v for _, v in points]
        if ratio >= xs[-1]:
            return ys[-1] * ratio / xs[-1]
        for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
            if ratio <= x1:
                return y0 + (y1 - y0) * (ratio - x0) / (x1 - x0)
        raise AssertionError("unreachable")

    def predicted_ms(self, ratios: dict[str, float], flops_saved: float | None = None) -> float:
        """Latency predicted for the model pruned at `ratios` by layer: base_ms less the layers' savings
        (additive model). With `flops_saved`, the FLOPs the plan removes (counted on the model pruned at
        `ratios` at once), the summed saving is scaled by `interaction(ratios, flops_saved)`."""
        saved = sum(self.saved_at(layer, r) for layer, r in ratios.items())
        if self.fitted:  # fitted to whole plans: overlap and per-op overheads are in the coefficients
            return self.base_ms - self.saved_of(saved)
        if flops_saved is not None:
            saved *= self.interaction(ratios, flops_saved)
        return self.base_ms - saved * self.calibration(flops_known=flops_saved is not None)

    def every_layer(self, ratio: float) -> dict[str, float]:
        """The plan `together` measures: every layer at `ratio`, save those it would leave without a channel."""
        return {layer: ratio for layer, channels in self.all_layers.items()
                if 0 < round(channels * ratio) < channels}

    def calibration(self, flops_known: bool = True) -> float:
        """How much of its predicted saving a whole plan keeps as measured: for each ratio measured
        `together`, the measured saving over the prediction for that plan (with the FLOPs interaction when
        `flops_known`), their mean; 1 where nothing was measured together (older tables) or nothing was
        predicted."""
        shares = []
        if self.fitted:
            return 1.0
        for ratio, measured in sorted(self.together.items()):
            plan = self.every_layer(ratio)
            summed = sum(self.saved_at(layer, r) for layer, r in plan.items())
            if flops_known and ratio in self.together_flops:
                summed *= self.interaction(plan, self.together_flops[ratio])
            if summed > 0:
                shares.append(measured / summed)
        return float(statistics.fmean(shares)) if shares else 1.0

    def share_together(self) -> float:
        """The measured saving of every layer pruned at once over the tables' summed single-layer savings,
        without the FLOPs interaction (the knapsack's own additive terms); 1 where not measured."""
        return self.calibration(flops_known=False)

    def predicted_speedup(self, ratios: dict[str, float], flops_saved: float | None = None) -> float:
        return self.base_ms / self.predicted_ms(ratios, flops_saved)

    def flops_saved_at(self, layer: str, ratio: float) -> float:
        """FLOPs removed by pruning `layer` alone at `ratio` (exactly linear in the channels removed)."""
        channels = self.all_layers.get(layer, 0)
        return self.flops_per_channel.get(layer, 0.0) * round(channels * ratio) if ratio > 0 else 0.0

    def interaction(self, ratios: dict[str, float], flops_saved: float) -> float:
        """The share of the summed single-layer savings that pruning `ratios` together keeps, by FLOPs: a
        convolution whose input and output channels are both pruned (at a and b) keeps (1-a)(1-b) of its
        work, not 1-a-b, so single-layer savings overlap. `flops_saved` / the sum of the layers' single
        FLOPs savings (1 where those are unknown). On the demo's MobileNetV2 pruned uniformly at 0.5 it is
        0.81; scaling by it brought the prediction's error from 25-43% to 7-21% of the measured latency."""
        singles = sum(self.flops_saved_at(layer, r) for layer, r in ratios.items())
        return flops_saved / singles if singles > 0 else 1.0

    def predictor_settings(self):
        """The slimpipe.inference.PredictorSettings the table was measured with (batch and size aside)."""
        from slimpipe.inference import PredictorSettings

        s = self.settings
        return PredictorSettings(device=s["device"], mkldnn=s["mkldnn"], threads=s["threads"])

    def update_base(self, fallback: tuple[float, float] | None = None) -> None:
        """base_ms and base_spread_ms from the layers' base measurements (or `fallback` while none)."""
        values = list(self.layer_base_ms.values())
        if values:
            self.base_ms, self.base_spread_ms = float(statistics.median(values)), spread(values)
        elif fallback is not None:
            self.base_ms, self.base_spread_ms = fallback

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["format"] = FORMAT
        data["saved"] = {k: {ratio_key(r): v for r, v in sorted(m.items())} for k, m in self.saved.items()}
        data["spread"] = {k: {ratio_key(r): v for r, v in sorted(m.items())} for k, m in self.spread.items()}
        for key in TOGETHER_KEYS:
            data[key] = {ratio_key(r): v for r, v in sorted(getattr(self, key).items())}
        return data


TOGETHER_KEYS = ("together", "together_spread", "together_flops")


def write(path: str | Path, table: LatencyTable) -> None:
    """Atomically (write aside, then rename); refuses non-finite values rather than writing NaN."""
    _check(table, Path(path))
    atomic.write_text(path, json.dumps(table.to_json(), indent=2, allow_nan=False) + "\n")


def read(path: str | Path) -> LatencyTable:
    """Load and validate a latency table; errors name the file and the bad value."""
    from slimpipe.jsonfile import read_tagged

    path = Path(path)
    data = read_tagged(path, FORMAT, "latency table")
    if data.get("measured") is False:  # the pipeline's record that no latency target asked for one
        raise fail(f"{path}: no latency table was measured here ({data.get('reason')}); "
                   f"measure one with `slimpipe latency-table`")
    names = {f.name for f in fields(LatencyTable)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise fail(f"{path}: unknown field {unknown[0]!r}")
    try:
        for key in ("saved", "spread"):
            data[key] = {layer: {_ratio(r, path, layer): v for r, v in values.items()}
                         for layer, values in data[key].items()}
        for key in TOGETHER_KEYS:
            if key in data:
                data[key] = {_ratio(r, path, key): v for r, v in data[key].items()}
        table = LatencyTable(**data)
    except (AttributeError, TypeError) as exc:
        raise fail(f"{path}: malformed latency table: {exc}") from None
    _check(table, path)
    return table


def _ratio(text: Any, path: Path, layer: str) -> float:
    try:
        ratio = float(text)
    except (TypeError, ValueError):
        raise fail(f"{path}: layer {layer!r}: ratio {text!r} is not a number") from None
    if not (math.isfinite(ratio) and 0.0 < ratio < 1.0):
        raise fail(f"{path}: layer {layer!r}: ratio {text!r} is not a number in (0, 1)")
    return ratio


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _count(value: Any, low: int = 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _check(t: LatencyTable, path: Path) -> None:
    """Every field has the type and range readers rely on."""
    for name in ("task", "arch", "fingerprint"):
        if not isinstance(getattr(t, name), str):
            raise fail(f"{path}: {name} {getattr(t, name)!r} is not a string")
    s = t.settings
    if not (isinstance(s, dict) and set(s) == set(SETTING_KEYS) and s["device"] in ("cpu", "gpu")
            and isinstance(s["mkldnn"], bool) and _count(s["threads"]) and _count(s["batch"])
            and isinstance(s["input_size"], list) and len(s["input_size"]) == 2
            and all(_count(v) for v in s["input_size"])):
        raise fail(f"{path}: settings {s!r} must hold device (cpu|gpu), mkldnn (true|false), threads, batch "
                   f"and input_size [h, w]"[:400])
    for name in ("base_ms", "base_spread_ms", "seconds"):
        value = getattr(t, name)
        if not _number(value) or value < 0:
            raise fail(f"{path}: {name} {value!r} is not a finite number >= 0")
    if not (isinstance(t.ratios, list) and t.ratios and all(_number(r) and 0 < r < 1 for r in t.ratios)):
        raise fail(f"{path}: ratios {t.ratios!r} must be a non-empty list of numbers in (0, 1)"[:400])
    for name in ("layers", "all_layers"):
        channels = getattr(t, name)
        if not isinstance(channels, dict) or not all(_count(v) for v in channels.values()):
            raise fail(f"{path}: {name} must map each layer to its channel count, found {channels!r}"[:400])
    outside = sorted(set(t.layers) - set(t.all_layers))
    if outside:
        raise fail(f"{path}: layer {outside[0]!r} of `layers` is not in `all_layers`")
    for name in ("saved", "spread"):
        table = getattr(t, name)
        if not isinstance(table, dict):
            raise fail(f"{path}: {name} must map layers to {{ratio: ms}}")
        for layer, values in table.items():
            if layer not in t.layers:
                raise fail(f"{path}: {name}: layer {layer!r} is not one of this table's layers")
            if not isinstance(values, dict):
                raise fail(f"{path}: {name}: layer {layer!r} must map ratios to milliseconds")
            for ratio, ms in values.items():
                if not _number(ms):
                    raise fail(f"{path}: {name}: layer {layer!r} at ratio {ratio_key(ratio)}: {ms!r} is not a "
                               f"finite number")
                if name == "spread" and ms < 0:
                    raise fail(f"{path}: spread: layer {layer!r} at ratio {ratio_key(ratio)}: {ms!r} is negative")
    if {k: set(v) for k, v in t.saved.items()} != {k: set(v) for k, v in t.spread.items()}:
        raise fail(f"{path}: saved and spread do not hold the same layers and ratios")
    if not (_count(t.base_flops, 0) and isinstance(t.flops_per_channel, dict)
            and all(_number(v) and v >= 0 for v in t.flops_per_channel.values())):
        raise fail(f"{path}: base_flops must be a whole number and flops_per_channel map layers to FLOPs >= 0")
    if not isinstance(t.layer_base_ms, dict) or not all(_number(v) and v > 0 for v in t.layer_base_ms.values()):
        raise fail(f"{path}: layer_base_ms must map layers to positive milliseconds")
    if t.shard is not None and not (isinstance(t.shard, list) and len(t.shard) == 2 and _count(t.shard[1])
                                    and _count(t.shard[0], 0) and t.shard[0] < t.shard[1]):
        raise fail(f"{path}: shard {t.shard!r} must be null or [i, n] with 0 <= i < n")
    if not _count(t.rounds) or not _count(t.repeats) or not _count(t.settle, 0) or not _count(t.evaluations, 0):
        raise fail(f"{path}: rounds, repeats, settle and evaluations must be whole numbers "
                   f"(found {t.rounds!r}, {t.repeats!r}, {t.settle!r}, {t.evaluations!r})")
    if not isinstance(t.complete, bool):
        raise fail(f"{path}: complete {t.complete!r} is not true or false")
    _check_plans(t, path)
    for key in TOGETHER_KEYS:
        values = getattr(t, key)
        if not isinstance(values, dict) or not all(_number(v) for v in values.values()):
            raise fail(f"{path}: {key} must map ratios to finite numbers, found {values!r}"[:400])
        if key != "together" and any(v < 0 for v in values.values()):
            raise fail(f"{path}: {key} must not be negative, found {values!r}"[:400])


def _check_plans(t: LatencyTable, path: Path) -> None:
    """Method "plans": each measured plan names known layers at ratios in (0, 1) and holds its figures."""
    if t.method not in METHODS:
        raise fail(f"{path}: method {t.method!r} is not one of {', '.join(METHODS)}")
    if not (_count(t.seed, 0) and _count(t.plan_count, 0) and isinstance(t.plans, list) and isinstance(t.fit, dict)):
        raise fail(f"{path}: seed and plan_count must be whole numbers >= 0, plans a list and fit an object")
    if t.fit.get("form", "additive") not in FIT_FORMS:
        raise fail(f"{path}: fit form {t.fit.get('form')!r} is not one of {', '.join(FIT_FORMS)}")
    for i, plan in enumerate(t.plans):
        where = f"{path}: plans[{i}]"
        if not (isinstance(plan, dict) and set(plan) == {"index", "ratios", "saved_frac", "spread_frac", "base_ms"}):
            raise fail(f"{where} must hold exactly index, ratios, saved_frac, spread_frac and base_ms")
        if not (_count(plan["index"], 0) and plan["index"] < max(t.plan_count, 1)):
            raise fail(f"{where}: index {plan['index']!r} is not a whole number below plan_count {t.plan_count}")
        if not isinstance(plan["ratios"], dict) or not plan["ratios"]:
            raise fail(f"{where}: ratios must map layers to ratios")
        for layer, ratio in plan["ratios"].items():
            if layer not in t.all_layers:
                raise fail(f"{where}: layer {layer!r} is not one of this table's layers")
            if not (_number(ratio) and 0 < ratio < 1):
                raise fail(f"{where}: layer {layer!r}: ratio {ratio!r} is not a number in (0, 1)")
        if not (_number(plan["saved_frac"]) and plan["saved_frac"] < 1 and _number(plan["spread_frac"])
                and plan["spread_frac"] >= 0 and _number(plan["base_ms"]) and plan["base_ms"] > 0):
            raise fail(f"{where}: saved_frac must be a number below 1, spread_frac >= 0 and base_ms > 0 "
                       f"(found {plan['saved_frac']!r}, {plan['spread_frac']!r}, {plan['base_ms']!r})")
    indices = [plan["index"] for plan in t.plans]
    if len(set(indices)) != len(indices):
        raise fail(f"{path}: plans repeat an index")


def check_matches(table: LatencyTable, path: Path, arch: str, fingerprint: str, layers: list[str]) -> None:
    """Refuse a table measured on a different model."""
    if table.arch != arch or table.fingerprint != fingerprint:
        raise fail(f"{path}: the latency table was measured for another model "
                   f"(arch {table.arch!r}, fingerprint {table.fingerprint!r}; "
                   f"this model: arch {arch!r}, fingerprint {fingerprint!r})")
    unknown = sorted(set(table.saved) - set(layers))
    if unknown:
        raise fail(f"{path}: layer {unknown[0]!r} is not a prunable layer of this model")


def require_complete(table: LatencyTable, path: Path) -> None:
    """Stages that consume a table refuse one whose measurement has not finished, or a single shard."""
    if not table.complete:
        raise fail(f"{path}: the latency table is incomplete; re-run `slimpipe latency-table` with the same "
                   f"--out to finish it")
    if table.shard:
        i, n = table.shard
        raise fail(f"{path}: this is shard {i}/{n} of the latency table; join the shards with "
                   f"`slimpipe merge-latency-tables` first")


def check_resumable(table: LatencyTable, path: Path, header: dict[str, Any]) -> None:
    """A partial file continues only the same measurement (RUN_KEYS) of the same model."""
    for key in RUN_KEYS:
        if getattr(table, key) != header[key]:
            raise fail(f"{path}: cannot resume: its {key} is {getattr(table, key)!r}, this run's is "
                       f"{header[key]!r} (name a new --out, or pass --overwrite to start over)")


def merge(parts: list[tuple[Path, LatencyTable]]) -> LatencyTable:
    """One unsharded table from complete shard tables [(path, table)]; refuses shards of different models,
    settings or ratios, and a set of shards that is incomplete or repeats one. base_ms is recomputed from
    every shard's base measurements."""
    if not parts:
        raise fail("no shard files given")
    first_path, first = parts[0]
    for path, table in parts:
        if not table.shard:
            raise fail(f"{path}: not a shard (no `shard` field); only shard files are merged")
        if not table.complete:
            raise fail(f"{path}: shard {table.shard[0]}/{table.shard[1]} is incomplete; re-run "
                       f"`slimpipe latency-table --shard {table.shard[0]}/{table.shard[1]}` with the same --out")
        for key in tuple(k for k in RUN_KEYS if k != "shard") + ("ratios", "all_layers"):
            if getattr(table, key) != getattr(first, key):
                raise fail(f"{path}: its {key} is {getattr(table, key)!r}, {first_path} has "
                           f"{getattr(first, key)!r}; shards of different measurements cannot be merged"[:600])
    count = first.shard[1]
    seen = sorted(t.shard[0] for _, t in parts)
    if any(t.shard[1] != count for _, t in parts) or seen != list(range(count)):
        raise fail(f"shards {seen} of {count}: need each of 0..{count - 1} exactly once")
    if first.fitted:
        return _merge_plans(parts)
    saved, spreads, bases, flops = {}, {}, {}, {}
    together = next((t for _, t in parts if t.together), first)  # shard 0 measures every layer at once
    for _, table in parts:
        saved.update(table.saved)
        spreads.update(table.spread)
        bases.update(table.layer_base_ms)
        flops.update(table.flops_per_channel)
    missing = [layer for layer in first.all_layers if layer not in saved]
    if missing:
        raise fail(f"merged shards lack layer {missing[0]!r} ({len(missing)} missing)")
    order = list(first.all_layers)
    merged = LatencyTable(
        task=first.task, arch=first.arch, fingerprint=first.fingerprint, settings=dict(first.settings),
        base_ms=0.0, base_spread_ms=0.0, ratios=list(first.ratios),
        saved={k: saved[k] for k in order}, spread={k: spreads[k] for k in order},
        layers=dict(first.all_layers), all_layers=dict(first.all_layers), shard=None, complete=True,
        evaluations=sum(t.evaluations for _, t in parts), seconds=sum(t.seconds for _, t in parts),
        rounds=first.rounds, repeats=first.repeats, settle=first.settle,
        layer_base_ms={k: bases[k] for k in order if k in bases},
        rewritten=all(t.rewritten is not False for _, t in parts), host=dict(first.host),
        base_flops=first.base_flops, flops_per_channel={k: flops[k] for k in order if k in flops},
        **{key: dict(getattr(together, key)) for key in TOGETHER_KEYS})
    merged.update_base(fallback=(float(statistics.median(t.base_ms for _, t in parts)),
                                 max(t.base_spread_ms for _, t in parts)))
    return merged


def _merge_plans(parts: list[tuple[Path, LatencyTable]]) -> LatencyTable:
    """Method "plans": the shards' plans together, fitted as one table."""
    first = parts[0][1]
    plans = sorted((plan for _, t in parts for plan in t.plans), key=lambda plan: plan["index"])
    if [plan["index"] for plan in plans] != list(range(first.plan_count)):
        raise fail(f"the shards hold {len(plans)} plans, not each of the {first.plan_count} planned once")
    merged = LatencyTable(
        task=first.task, arch=first.arch, fingerprint=first.fingerprint, settings=dict(first.settings),
        base_ms=0.0, base_spread_ms=0.0, ratios=list(first.ratios), saved={}, spread={},
        layers=dict(first.all_layers), all_layers=dict(first.all_layers), shard=None, complete=True,
        evaluations=sum(t.evaluations for _, t in parts), seconds=sum(t.seconds for _, t in parts),
        rounds=first.rounds, repeats=first.repeats, settle=first.settle,
        rewritten=all(t.rewritten is not False for _, t in parts),
        host=dict(first.host), base_flops=first.base_flops, method=first.method, seed=first.seed,
        plan_count=first.plan_count, plans=plans)
    apply_fit(merged)
    return merged


def write_not_measured(path: str | Path, reason: str) -> None:
    """What the pipeline's latency-table step leaves when the run has no latency target: a record that says
    so (read() refuses it by that reason), so that every later step can be wired to the step alike."""
    atomic.write_text(path, json.dumps({"format": FORMAT, "measured": False, "reason": reason}) + "\n")


def read_measured(path: str | Path) -> LatencyTable | None:
    """The table at `path`, or None where the file records that none was measured (write_not_measured)."""
    try:
        data = json.loads(Path(path).read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        data = None  # read() names what is wrong
    if isinstance(data, dict) and data.get("format") == FORMAT and data.get("measured") is False:
        return None
    return read(path)
