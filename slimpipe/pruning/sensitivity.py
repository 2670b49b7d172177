"""Per-layer sensitivity: the relative metric loss when one layer alone is pruned at each ratio.

`compute` does no file I/O: it hands every result to a `SensitivityStore` (the stage's keeps the analysis as
plain JSON, never pickle, written atomically after every evaluation so an interrupted run resumes where it
stopped; see slimpipe/stages/sensitivity.py) and reports its plan through this module's logger. The record:
    {"format", "task", "arch", "fingerprint", "metric", "baseline", "criterion", "ratios",
     "sensitivities": {layer: {"0.1": loss, ...}}, "evaluations", "seconds_per_evaluation",
     "stop_loss", "capped": {layer: [ratio keys]}, "subset", "shard": [i, n] | null, "all_layers",
     "in_place_evaluation" (whether one predictor served every evaluation, see masked_eval.py),
     "folded_evaluation" (whether that predictor ran with batch norm folded into the convolutions)}
loss = (baseline - pruned) / (baseline + 1e-3), PaddleSlim's dygraph formula.

Early stop: with `stop_loss`, once a layer's loss reaches it the layer's larger ratios are not evaluated;
they are recorded as the cap ("at least the cap") and listed in `capped`. For a loss threshold below the
cap the pruning ratios equal a full analysis's, except where a noisy curve would dip back under the
threshold after passing the cap: there early stop keeps the smaller, safer ratio.
Shards: `shard` [i, n] measures every n-th layer from the i-th; `merge` joins complete shards.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from slimpipe import defaults
from slimpipe.errors import fail

FORMAT = "slimpipe.sensitivities/1"
DEFAULT_RATIOS = defaults.ratios(defaults.SENSITIVITY_RATIOS)
EPS = 1e-3
# What must agree for a file to be resumed, or for shards to be merged: the same analysis of the same model.
RUN_KEYS = ("task", "arch", "fingerprint", "metric", "criterion", "stop_loss", "subset", "shard")

logger = logging.getLogger(__name__)


class SensitivityStore(Protocol):
    """Where `compute` keeps an analysis as it goes (a file, an object-store checkpoint, memory). Each call
    gets the whole record (the JSON shape above), so a store may write it whole; `data` is compute's own
    dict: copy what must not change later."""

    where: str  # names the analysis in messages: a path or URI

    def load(self) -> dict[str, Any] | None:
        """The record of an earlier, unfinished (or finished) run to resume, or None to start afresh."""

    def start(self, data: dict[str, Any], todo: int) -> None:
        """The run begins (afresh or resumed) with at most `todo` evaluations left."""

    def record(self, data: dict[str, Any], layer: str, ratio: float, loss: float, capped: bool) -> None:
        """`layer` at `ratio` is in `data`: measured (`loss`) or, `capped`, set to the early-stop cap."""

    def finish(self, data: dict[str, Any]) -> None:
        """Every (layer, ratio) pair is in `data`, now marked complete."""


def relative_loss(baseline: float, pruned: float) -> float:
    return (baseline - pruned) / (baseline + EPS)


def ratio_key(ratio: float) -> str:
    return str(round(float(ratio), 4))


def parse_ratios(text: str) -> list[float]:
    """`0.1,0.2,...` -> sorted unique floats, each in (0, 1)."""
    try:
        ratios = sorted({round(float(x), 4) for x in text.split(",") if x.strip()})
    except ValueError:
        raise fail(f"--ratios {text!r}: expected comma-separated numbers like 0.1,0.2,0.3") from None
    bad = [r for r in ratios if not 0.0 < r < 1.0]
    if not ratios or bad:
        raise fail(f"--ratios {text!r}: every ratio must be in (0, 1)")
    return ratios


def read(path: str | Path) -> dict[str, Any]:
    """Load and validate a sensitivities JSON file; ratio keys become floats in `table`."""
    from slimpipe.jsonfile import read_tagged

    path = Path(path)
    data = read_tagged(path, FORMAT, "sensitivities file",
                       hint="; sensitivities files are JSON, not PaddleSlim pickles")
    try:
        data["table"] = {layer: {float(r): float(v) for r, v in losses.items()}
                         for layer, losses in data["sensitivities"].items()}
    except (AttributeError, KeyError, ValueError, TypeError) as exc:
        raise fail(f"{path}: malformed sensitivities table: {exc}") from None
    check_finite(data, path)
    return data


@dataclass(kw_only=True)
class Sensitivities:
    """A sensitivities file as the stages that use it read it: the loss table with float ratios, and what was
    measured how. `raw` is the file's JSON object (what `compute` and `merge` build; written back unchanged)."""

    path: Path
    arch: str | None
    fingerprint: str | None
    metric: str | None
    baseline: float | None
    criterion: str | None
    table: dict[str, dict[float, float]]  # layer -> ratio -> relative loss
    complete: bool = False
    stop_loss: float | None = None  # early stop: losses at and above it are the cap, not measurements
    capped: dict[str, list[str]] = field(default_factory=dict)  # layer -> ratio keys set to the cap
    shard: list[int] | None = None
    evaluations: int = 0
    seconds_per_evaluation: float | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def read(cls, path: str | Path) -> Sensitivities:
        """Load and validate a sensitivities file (as `read`)."""
        data = read(path)
        return cls(path=Path(path), arch=data.get("arch"), fingerprint=data.get("fingerprint"),
                   metric=data.get("metric"), baseline=data.get("baseline"), criterion=data.get("criterion"),
                   table=data["table"], complete=bool(data.get("complete")), stop_loss=data.get("stop_loss"),
                   capped=data.get("capped") or {}, shard=data.get("shard"), evaluations=data.get("evaluations", 0),
                   seconds_per_evaluation=data.get("seconds_per_evaluation"),
                   raw={k: v for k, v in data.items() if k != "table"})

    @property
    def layers(self) -> list[str]:
        return list(self.table)

    def require_complete(self) -> None:
        """Refuse an unfinished analysis or a shard (see `require_complete`)."""
        require_complete(self.raw, self.path)

    def check_matches(self, arch: str, fingerprint: str, layers: list[str]) -> None:
        """Refuse sensitivities measured on a different model (see `check_matches`)."""
        check_matches(self.raw | {"table": self.table}, self.path, arch, fingerprint, layers)

    def check_threshold(self, threshold: float) -> None:
        """Refuse a loss threshold that early stop left unanswerable (see `check_threshold`)."""
        check_threshold(self.raw, self.path, threshold)

    def write(self, path: str | Path) -> Path:
        from slimpipe import atomic

        return atomic.write_json(path, self.raw)


def check_finite(data: dict[str, Any], path: Path) -> None:
    """Refuse NaN or infinite values (JSON's NaN, Infinity): a NaN loss compares false with every threshold,
    which would prune every layer at the largest ratio."""
    for layer, losses in data["table"].items():
        for ratio, loss in losses.items():
            if not (math.isfinite(ratio) and 0.0 < ratio < 1.0):
                raise fail(f"{path}: layer {layer!r}: ratio {ratio} is not a number in (0, 1)")
            if not math.isfinite(loss):
                raise fail(f"{path}: layer {layer!r} at ratio {ratio_key(ratio)}: loss {loss} is not a finite number")
    baseline = data.get("baseline")
    if baseline is not None and not (isinstance(baseline, (int, float)) and math.isfinite(baseline)):
        raise fail(f"{path}: baseline {baseline!r} is not a finite number")


def check_matches(data: dict[str, Any], path: Path, arch: str, fingerprint: str, layers: list[str]) -> None:
    """Refuse sensitivities measured on a different model."""
    if data.get("arch") != arch or data.get("fingerprint") != fingerprint:
        raise fail(f"{path}: sensitivities were computed for another model "
                   f"(arch {data.get('arch')!r}, fingerprint {data.get('fingerprint')!r}; "
                   f"this model: arch {arch!r}, fingerprint {fingerprint!r})")
    unknown = sorted(set(data["table"]) - set(layers))
    if unknown:
        raise fail(f"{path}: layer {unknown[0]!r} is not a prunable layer of this model")


class EvaluationPool(Protocol):
    """Evaluates (layer, ratio) pairs, up to `size` at once, and hands back the metrics as they finish."""

    size: int

    def submit(self, layer: str, ratio: float) -> None:
        """Start evaluating `layer` pruned at `ratio` (at most `size` submitted and not yet returned)."""

    def result(self) -> tuple[str, float, float]:
        """The next finished (layer, ratio, metric), waiting for one if none has finished."""


class InProcess:
    """An EvaluationPool of one, in the caller's process: a pair is evaluated when its result is asked for."""

    size = 1

    def __init__(self, evaluate: Callable[[str, float], float]):
        self.evaluate, self.waiting = evaluate, []

    def submit(self, layer: str, ratio: float) -> None:
        self.waiting.append((layer, ratio))

    def result(self) -> tuple[str, float, float]:
        layer, ratio = self.waiting.pop(0)
        return layer, ratio, self.evaluate(layer, ratio)


def compute(store: SensitivityStore, header: dict[str, Any], layers: list[str], ratios: list[float],
            baseline: float, evaluate: Callable[[str, float], float] | EvaluationPool) -> dict[str, Any]:
    """Fill in every (layer, ratio) pair that `store.load()` lacks, handing each result to `store.record`;
    returns the finished record. `evaluate` is a function of (layer, ratio) returning the metric, or a pool
    that evaluates several pairs at once. `header["stop_loss"]` (or None) stops a layer early: then a layer
    has one pair in flight at a time, so a capped ratio is never evaluated, as in a sequential run."""
    pool = evaluate if hasattr(evaluate, "submit") else InProcess(evaluate)
    data = _start_or_resume(store.load(), store.where, header, ratios, baseline)
    cap = data.get("stop_loss")
    pending = {layer: [r for r in sorted(ratios) if ratio_key(r) not in data["sensitivities"].get(layer, {})]
               for layer in layers}
    pending = {layer: todo for layer, todo in pending.items() if todo}
    todo = sum(len(v) for v in pending.values())
    logger.info("%d layers x %d ratios: %d evaluations at most, %d already in %s%s%s", len(layers), len(ratios),
                todo, len(layers) * len(ratios) - todo, store.where,
                f"; a layer stops at loss {cap}" if cap is not None else "",
                f"; {pool.size} evaluations at once" if pool.size > 1 else "")
    store.start(data, todo)
    spent, start = data.get("seconds_evaluating", 0.0), time.perf_counter()
    in_flight: list[tuple[str, float]] = []
    while pending or in_flight:
        while len(in_flight) < pool.size:
            pair = _next_pair(pending, in_flight, data, store, cap)
            if pair is None:
                break
            pool.submit(*pair)
            in_flight.append(pair)
        if not in_flight:
            continue
        layer, ratio, metric = pool.result()
        in_flight.remove((layer, ratio))
        loss = relative_loss(baseline, metric)
        if not math.isfinite(loss):
            raise fail(f"layer {layer!r} pruned at ratio {ratio_key(ratio)} gave a metric that is not a finite "
                       f"number (loss {loss}); nothing more is recorded in {store.where}")
        _put(data, layer, ratio, loss)
        data["evaluations"] += 1
        data["seconds_evaluating"] = spent + time.perf_counter() - start
        data["seconds_per_evaluation"] = data["seconds_evaluating"] / data["evaluations"]
        store.record(data, layer, ratio, loss, capped=False)
    data["sensitivities"] = {layer: data["sensitivities"][layer] for layer in
                             sorted(data["sensitivities"], key=_order(layers))}
    data["complete"] = True
    store.finish(data)
    return data


def _next_pair(pending: dict[str, list[float]], in_flight: list[tuple[str, float]], data: dict[str, Any],
               store: SensitivityStore, cap: float | None) -> tuple[str, float] | None:
    """The next pair to evaluate, in layer then ratio order, recording (and skipping) capped ones; None when
    every pending pair waits on a layer that is in flight (early stop) or nothing is pending."""
    busy = {layer for layer, _ in in_flight}
    for layer in list(pending):
        if cap is not None and layer in busy:
            continue
        ratios = pending[layer]
        while ratios:
            ratio = ratios.pop(0)
            if cap is not None and _reached(data, layer, ratio, cap):
                _put(data, layer, ratio, cap)
                data.setdefault("capped", {}).setdefault(layer, []).append(ratio_key(ratio))
                store.record(data, layer, ratio, cap, capped=True)
                continue
            if not ratios:
                del pending[layer]
            return layer, ratio
        del pending[layer]
    return None


def _put(data: dict[str, Any], layer: str, ratio: float, loss: float) -> None:
    """Record a loss, keeping the layer's ratios in increasing order whatever order results arrive in."""
    losses = data["sensitivities"].setdefault(layer, {})
    losses[ratio_key(ratio)] = loss
    data["sensitivities"][layer] = dict(sorted(losses.items(), key=lambda kv: float(kv[0])))


def _order(layers: list[str]) -> Callable[[str], int]:
    """Sort key: the analysis's layer order, then layers it does not list (a resumed file's) after them."""
    rank = {layer: i for i, layer in enumerate(layers)}
    return lambda layer: rank.get(layer, len(rank))


def _reached(data: dict[str, Any], layer: str, ratio: float, cap: float) -> bool:
    """Whether a measured (not capped) loss of `layer` at a smaller ratio has reached `cap`."""
    capped = set(data.get("capped", {}).get(layer, []))
    return any(float(r) < ratio and v >= cap and r not in capped
               for r, v in data["sensitivities"].get(layer, {}).items())


def check_threshold(data: dict[str, Any], path: Path, threshold: float) -> None:
    """A loss threshold at or above an early-stop cap cannot be answered from capped measurements."""
    cap = data.get("stop_loss")
    if cap is not None and threshold >= cap:
        raise fail(f"{path}: measured with early stop at loss {cap}; a threshold of {threshold} needs the "
                   f"losses at and above it (re-run the analysis with --stop-loss > {threshold}, or without it)")


def require_complete(data: dict[str, Any], path: Path) -> None:
    """Stages that consume sensitivities refuse a file whose analysis has not finished."""
    if not data.get("complete"):
        raise fail(f"{path}: the sensitivity analysis in this file is incomplete; re-run "
                   f"`slimpipe sensitivity` with the same --out to finish it")
    if data.get("shard"):
        i, n = data["shard"]
        raise fail(f"{path}: this is shard {i}/{n} of the analysis; join the shards with "
                   f"`slimpipe merge-sensitivities` first")


def _start_or_resume(earlier: dict[str, Any] | None, where: str, header: dict[str, Any], ratios: list[float],
                     baseline: float) -> dict[str, Any]:
    """The record to fill in: `earlier` (a store's load()) once it is checked to be this analysis, or a new one."""
    if earlier is not None:
        data = dict(earlier)
        data.pop("table", None)
        for key in RUN_KEYS:
            if data.get(key) != header.get(key):
                raise fail(f"{where}: cannot resume: its {key} is {data.get(key)!r}, this run's is {header[key]!r}")
        if abs(float(data["baseline"]) - baseline) > 1e-6:
            raise fail(f"{where}: cannot resume: it was measured on other weights "
                       f"(baseline {data['baseline']}, this model's {baseline})")
        data["ratios"] = sorted(set(data["ratios"]) | set(ratios))
        data["complete"] = False
        return data
    return dict(header, format=FORMAT, baseline=baseline, ratios=list(ratios), complete=False, sensitivities={},
                capped={}, evaluations=0, seconds_evaluating=0.0, seconds_per_evaluation=None)


def merge(parts: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """One unsharded analysis from complete shard files [(path, data)]; refuses shards of different models,
    metrics, baselines or settings, and a set of shards that is incomplete or repeats one."""
    first_path, first = parts[0]
    for path, data in parts:
        require_complete({**data, "shard": None}, path)
        if not data.get("shard"):
            raise fail(f"{path}: not a shard (no `shard` field); only shard files are merged")
        for key in RUN_KEYS[:-1] + ("ratios",):
            if data.get(key) != first.get(key):
                raise fail(f"{path}: its {key} is {data.get(key)!r}, {first_path} has {first.get(key)!r}; "
                           f"shards of different analyses cannot be merged")
        if abs(float(data["baseline"]) - float(first["baseline"])) > 1e-6:
            raise fail(f"{path}: baseline {data['baseline']} differs from {first_path}'s {first['baseline']}: "
                       f"measured on other weights or data")
    count = first["shard"][1]
    seen = sorted(data["shard"][0] for _, data in parts)
    if any(data["shard"][1] != count for _, data in parts) or seen != list(range(count)):
        raise fail(f"shards {seen} of {count}: need each of 0..{count - 1} exactly once")
    merged = {k: v for k, v in first.items() if k not in ("table", "sensitivities", "capped", "layers")}
    merged.update(shard=None, layers=dict(first["all_layers"]), sensitivities={}, capped={},
                  evaluations=sum(d["evaluations"] for _, d in parts),
                  seconds_evaluating=sum(d.get("seconds_evaluating", 0.0) for _, d in parts),
                  in_place_evaluation=all(d.get("in_place_evaluation", False) for _, d in parts),
                  folded_evaluation=all(d.get("folded_evaluation", False) for _, d in parts))
    for _, data in parts:
        merged["sensitivities"].update(data["sensitivities"])
        merged["capped"].update(data.get("capped", {}))
    missing = sorted(set(first["all_layers"]) - set(merged["sensitivities"]))
    if missing:
        raise fail(f"merged shards lack layer {missing[0]!r} ({len(missing)} missing)")
    merged["sensitivities"] = {k: merged["sensitivities"][k] for k in first["all_layers"]}
    merged["seconds_per_evaluation"] = merged["seconds_evaluating"] / max(merged["evaluations"], 1)
    return merged
