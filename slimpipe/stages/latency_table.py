"""Latency table stage: for each prunable layer and ratio, the latency the whole exported model saves when
that layer is structurally pruned, on the benchmark's predictor settings and input (its defaults:
benchmark()'s own), measured against the unpruned model in alternating rounds (slimpipe/pruning/timing.py).
Method "plans" (the default) times random whole plans (shard (i, n): every n-th plan from the i-th) and fits
per-layer savings to them; method "layers" times each layer (or shard's share) pruned alone
(slimpipe/pruning/latency.py). Which channels go does not change the latency, only how many: the l1_norm
ranking is used throughout."""
from __future__ import annotations

import inspect
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from slimpipe import atomic, modeldir
from slimpipe.errors import SlimpipeError, fail
from slimpipe.inference import PredictorSettings, gpu_unavailable_reason
from slimpipe.progress import Progress, log
from slimpipe.pruning import latency as lat
from slimpipe.pruning.channels import ChannelPruner, model_stats
from slimpipe.pruning.timing import Reshaper, exported_program, predictor_for, timed_as
from slimpipe.stages.benchmark import benchmark
from slimpipe.stages.common import load_split_for
from slimpipe.stages.sensitivity import check_shard
from slimpipe.tasks import get_task

STAGE = "latency-table"
_B = inspect.signature(benchmark).parameters
# The benchmark's predictor settings and batch size: a table measures what the benchmark will measure.
BENCHMARK_DEFAULTS = {"device": _B["device"].default, "mkldnn": _B["mkldnn"].default,
                      "threads": _B["threads"].default, "batch": _B["batch_size"].default}


def timed_feeds(task, val, batch: int) -> list[np.ndarray]:
    """The benchmark's timed input: the first `batch` val images (fewer where the split is smaller)."""
    return task.feeds(val, np.arange(min(batch, len(val))))


def schedule(table: lat.LatencyTable) -> str:
    """`30 rounds x 1 run each after 1 untimed` for logs."""
    return (f"{table.rounds} rounds x {table.repeats} timed run(s) each"
            f"{f' after {table.settle} untimed' if table.settle else ''}")


def latency_table(model: str | Path, dataset: str | Path, out: str | Path,
                  device: str = BENCHMARK_DEFAULTS["device"], mkldnn: bool = BENCHMARK_DEFAULTS["mkldnn"],
                  threads: int = BENCHMARK_DEFAULTS["threads"], batch: int = BENCHMARK_DEFAULTS["batch"],
                  ratios: Sequence[float] | None = None, shard: tuple[int, int] | None = None,
                  rounds: int = lat.DEFAULT_ROUNDS, repeats: int = lat.DEFAULT_REPEATS,
                  settle: int = lat.DEFAULT_SETTLE, method: str = lat.DEFAULT_METHOD, plans: int | None = None,
                  seed: int = 0, overwrite: bool = False) -> lat.LatencyTable:
    """Measure the table, writing `out` after each plan (method "plans") or layer (method "layers"); resumes
    from `out` where it holds a partial table of the same measurement. `ratios`: those plans draw from
    (default lat.PLAN_RATIOS), or each layer is timed at (default lat.DEFAULT_RATIOS); `plans`: how many
    (default lat.default_plan_count); `seed` chooses them."""
    atomic.claim(out, STAGE, {"model": model, "dataset": dataset}, overwrite, folder=False,
                 ours=atomic.json_tagged(lat.FORMAT))
    out = Path(out)
    check_shard(shard)
    if method not in lat.METHODS:
        raise fail(f"method {method!r}: expected one of {', '.join(lat.METHODS)}")
    if ratios is None:
        ratios = lat.PLAN_RATIOS if method == "plans" else lat.DEFAULT_RATIOS
    ratios = sorted({round(float(r), 4) for r in ratios})
    if not ratios or not all(0.0 < r < 1.0 for r in ratios):
        raise fail(f"ratios {ratios}: each must be in (0, 1)")
    if plans is not None and (method != "plans" or plans < 1):
        raise fail(f"plans {plans}: plans is a count >= 1 for method plans")
    for name, value in (("seed", seed), ("settle", settle)):
        if value < 0:
            raise fail(f"{name} {value}: must be 0 or more")
    for name, value in (("rounds", rounds), ("repeats", repeats), ("threads", threads), ("batch", batch)):
        if value < 1:
            raise fail(f"{name} {value}: must be at least 1")
    if device not in ("cpu", "gpu"):
        raise fail(f"device {device!r}: expected cpu or gpu")
    if device == "gpu":
        reason = gpu_unavailable_reason(trt=False)
        if reason:
            raise fail(f"GPU latency table not possible: {reason}")
    net, info = modeldir.load(model)
    task = get_task(info.task)
    feeds = timed_feeds(task, load_split_for(info, dataset, "val"), batch)
    settings = PredictorSettings(device=device, mkldnn=mkldnn, threads=threads)
    pruner = ChannelPruner(net, info.input_shape())
    every = pruner.verified_layers(info.input_shape())
    by_plans = method == "plans"
    layers = every[shard[0]::shard[1]] if shard and not by_plans else every
    count = (plans or lat.default_plan_count(len(every))) if by_plans else 0
    header = {"task": info.task, "arch": info.arch, "fingerprint": pruner.fingerprint(),
              "settings": lat.settings_of(settings, len(feeds[0]), info.input_size), "rounds": rounds,
              "repeats": repeats, "settle": settle, "shard": list(shard) if shard else None, "method": method,
              "seed": seed if by_plans else 0, "plan_count": count}
    table = _start_or_resume(out, header, ratios, {k: pruner.channels[k] for k in layers},
                             {k: pruner.channels[k] for k in every})
    if by_plans:
        return _plans_table(table, out, pruner, net, info, task, feeds, settings, shard)
    todo = {layer: _todo(table, pruner, layer) for layer in layers}
    todo = {layer: rs for layer, rs in todo.items() if rs}
    together = [] if shard and shard[0] else [r for r in table.ratios if r not in table.together
                                              and table.every_layer(r)]  # shard 0 measures these
    log(STAGE, f"{info.arch}: {lat.describe(table.settings)}; {len(layers)} layers"
               f"{f' of {len(every)}, shard {shard[0]}/{shard[1]}' if shard else ''} x {len(ratios)} ratios, "
               f"{sum(map(len, todo.values()))} pruned models to time ({len(layers) - len(todo)} layers "
               f"already in {out}), {schedule(table)}")
    if todo or together:
        started = time.perf_counter()
        reshaper, proven, base = _setup(table, pruner, every, net, info, task, feeds, settings)
        if not table.layer_base_ms:
            first = timed_as(table, [base], feeds)[0]
            table.update_base(fallback=(first.median_ms, first.spread_ms))
        table.seconds += time.perf_counter() - started
        _measure(table, out, todo, pruner, net, reshaper, base, feeds, settings, proven, info.input_shape())
        _measure_together(table, out, together, pruner, net, reshaper, base, feeds, settings, proven,
                          info.input_shape())
    for layer in layers:  # a layer too narrow for every ratio is still listed, with nothing saved
        table.saved.setdefault(layer, {})
        table.spread.setdefault(layer, {})
    table.complete = True
    table.host = {"machine": platform.machine(), "processor": platform.processor()}
    lat.write(out, table)
    log(STAGE, f"base {table.base_ms:.2f} ms (spread {table.base_spread_ms:.2f}); {table.evaluations} pruned "
               f"models timed in {table.seconds:.1f} s; written to {out}")
    return table


def _plans_table(table: lat.LatencyTable, out: Path, pruner, net, info, task, feeds: list[np.ndarray],
                 settings: PredictorSettings, shard: tuple[int, int] | None) -> lat.LatencyTable:
    """Method "plans": time this shard's share of the plans not yet in `out`, then (unsharded) fit."""
    every = list(table.all_layers)
    plans = lat.random_plans(table.all_layers, table.plan_count, table.seed, tuple(table.ratios))
    done = {plan["index"] for plan in table.plans}
    todo = [(i, plan) for i, plan in enumerate(plans)
            if (not shard or i % shard[1] == shard[0]) and i not in done]
    log(STAGE, f"{info.arch}: {lat.describe(table.settings)}; {len(every)} layers, {len(todo)} of "
               f"{table.plan_count} whole pruning plans to time{f' (shard {shard[0]}/{shard[1]})' if shard else ''}"
               f"{f', {len(done)} already in {out}' if done else ''}, {schedule(table)}")
    if todo:
        started = time.perf_counter()
        reshaper, proven, base = _setup(table, pruner, every, net, info, task, feeds, settings)
        table.seconds += time.perf_counter() - started
        progress = Progress(STAGE, len(todo))
        for index, plan in todo:
            started = time.perf_counter()
            with pruner.pruned(plan):
                predictor = predictor_for(*_program(reshaper, net, proven), settings)
            unpruned, pruned = timed_as(table, [base, predictor], feeds)
            ratio, ratio_spread = lat.latency_ratio(unpruned.samples, pruned.samples)
            table.plans.append({"index": index, "ratios": plan, "saved_frac": 1.0 - ratio,
                                "spread_frac": ratio_spread, "base_ms": unpruned.median_ms})
            table.plans.sort(key=lambda p: p["index"])
            table.evaluations += 1
            table.seconds += time.perf_counter() - started
            lat.write(out, table)
            progress.update(extra=f"plan {index}: {len(plan)} layers, {1 / ratio:.2f}x")
    table.host = {"machine": platform.machine(), "processor": platform.processor()}
    table.complete = True
    if not shard:
        lat.apply_fit(table)
    elif table.plans:
        lat.base_from_plans(table)
    lat.write(out, table)
    fit = (f"; fitted per-layer savings ({table.form}): leave-one-out latency error "
           f"{100 * table.fit['loo_mean_error']:.1f}% mean, {100 * table.fit['loo_max_error']:.1f}% largest"
           if table.fit else
           "; join the shards with `slimpipe merge-latency-tables`")
    log(STAGE, f"base {table.base_ms:.2f} ms; {len(table.plans)} plans timed in {table.seconds:.1f} s{fit}; "
               f"written to {out}")
    return table


def _setup(table: lat.LatencyTable, pruner, every: list[str], net, info, task, feeds: list[np.ndarray],
           settings: PredictorSettings):
    """Before timing: the unpruned export (a Reshaper), whether pruned programs can be derived from it (proven
    on this model, recorded in the table), and the unpruned predictor. Returns (reshaper, proven, base)."""
    reshaper = Reshaper(net, task.input_shapes(info.input_size))
    proven, why = _prove(reshaper, pruner, every, net, feeds, settings)
    table.rewritten = proven and table.rewritten is not False
    log(STAGE, "pruned programs derived from the unpruned export (proven on this model)" if proven
        else f"every pruned model is exported (deriving its program failed the proof: {why})")
    table.base_flops = table.base_flops or int(info.stats["flops"])  # model_stats at training time
    return reshaper, proven, predictor_for(reshaper.program, reshaper.params, settings)


def _prove(reshaper, pruner, layers: list[str], net, feeds: list[np.ndarray],
           settings: PredictorSettings) -> tuple[bool, str]:
    """Whether pruned programs can be derived from the unpruned export on this model: proven on the model
    pruned at half of every layer's channels at once (Reshaper.proven)."""
    try:
        with pruner.pruned({layer: 0.5 for layer in layers if pruner.channels[layer] > 1}):
            return reshaper.proven(net, feeds, settings)
    except (ValueError, RuntimeError, AssertionError) as exc:  # PaddleSlim's errors pruning every layer at once
        return False, f"pruning every layer at once failed: {str(exc).splitlines()[0][:200]}"


def _todo(table: lat.LatencyTable, pruner, layer: str) -> list[float]:
    """The ratios of `layer` still to measure; ratios that would remove every channel are left out."""
    done = table.saved.get(layer, {})
    todo = []
    for ratio in table.ratios:
        if ratio in done:
            continue
        try:
            pruner.check_ratio(layer, ratio)
        except SlimpipeError:
            continue
        todo.append(ratio)
    return todo


def _measure(table: lat.LatencyTable, out: Path, todo: dict[str, list[float]], pruner, net, reshaper, base,
             feeds: list[np.ndarray], settings: PredictorSettings, derived: bool, input_shape: list[int]) -> None:
    """Time each layer's pruned models against `base` (and count the FLOPs a removed channel saves, on the
    first of them); the table is written after each layer."""
    progress = Progress(STAGE, len(todo))
    for layer, ratios in todo.items():
        started = time.perf_counter()
        predictors, zero = [], []
        for ratio in ratios:
            removed = pruner.check_ratio(layer, ratio)
            if removed == 0:  # too few channels for this ratio to remove one
                zero.append(ratio)
                continue
            with pruner.pruned({layer: ratio}):
                program = _program(reshaper, net, derived)
                if layer not in table.flops_per_channel:
                    flops = table.base_flops - model_stats(net, input_shape)["flops"]
                    table.flops_per_channel[layer] = flops / removed
            predictors.append((ratio, predictor_for(*program, settings)))
        saved, spreads = table.saved.setdefault(layer, {}), table.spread.setdefault(layer, {})
        for ratio in zero:
            saved[ratio], spreads[ratio] = 0.0, 0.0
        base_samples = []
        for ratio, predictor in predictors:  # one pair at a time: each pruned run lies next to a base run
            unpruned, pruned = timed_as(table, [base, predictor], feeds)
            saved[ratio], spreads[ratio] = lat.saving(unpruned.samples, pruned.samples)
            base_samples += unpruned.samples
        if base_samples:
            table.layer_base_ms[layer] = float(statistics.median(base_samples))
            table.update_base()
        table.saved[layer] = dict(sorted(saved.items()))
        table.spread[layer] = dict(sorted(spreads.items()))
        table.evaluations += len(predictors)
        table.seconds += time.perf_counter() - started
        lat.write(out, table)
        progress.update(extra=f"{layer}: " + ", ".join(f"{r:g} -> {saved[r]:+.3f} ms" for r in ratios))


def _measure_together(table: lat.LatencyTable, out: Path, ratios: list[float], pruner, net, reshaper, base,
                      feeds: list[np.ndarray], settings: PredictorSettings, derived: bool,
                      input_shape: list[int]) -> None:
    """Time every layer pruned at once at each ratio against `base`, as the layers are (the table's
    `together`, from which it calibrates its predictions); written after each ratio."""
    for ratio in ratios:
        started = time.perf_counter()
        plan = table.every_layer(ratio)
        with pruner.pruned(plan):
            predictor = predictor_for(*_program(reshaper, net, derived), settings)
            table.together_flops[ratio] = float(table.base_flops - model_stats(net, input_shape)["flops"])
        unpruned, pruned = timed_as(table, [base, predictor], feeds)
        table.together[ratio], table.together_spread[ratio] = lat.saving(unpruned.samples, pruned.samples)
        table.evaluations += 1
        table.seconds += time.perf_counter() - started
        lat.write(out, table)
        log(STAGE, f"every layer at {ratio:g} at once: {table.together[ratio]:+.3f} ms; the tables' summed "
                   f"single-layer savings keep {table.calibration():.2f} of their prediction as measured")


def _program(reshaper, net, derived: bool) -> tuple[bytes, bytes]:
    """The inference program of `net` as it is now: derived from the unpruned export where that is proven,
    exported otherwise (also where this one network's program cannot be derived)."""
    if derived:
        try:
            return reshaper.variant(net)
        except RuntimeError as exc:
            log(STAGE, f"exporting this pruned model instead: {exc}")
    return exported_program(net, reshaper.input_shapes)


def _start_or_resume(out: Path, header: dict[str, Any], ratios: list[float], layers: dict[str, int],
                     all_layers: dict[str, int]) -> lat.LatencyTable:
    table = lat.read_measured(out) if out.exists() else None  # a record that none was measured starts afresh
    if table is not None:
        lat.check_resumable(table, out, header)
        if table.fitted and table.ratios != ratios:
            raise fail(f"{out}: cannot resume: its plans draw from ratios {table.ratios}, this run's from {ratios} "
                       f"(name a new --out, or pass --overwrite to start over)")
        if table.all_layers != all_layers:
            raise fail(f"{out}: cannot resume: it was measured on other prunable layers")
        table.ratios = sorted(set(table.ratios) | set(ratios))
        table.complete = False
        return table
    table = lat.LatencyTable(**header, base_ms=0.0, base_spread_ms=0.0, ratios=list(ratios), saved={}, spread={},
                             layers=layers, all_layers=all_layers, complete=False, evaluations=0, seconds=0.0)
    return table


def merge_latency_tables(shards: Sequence[str | Path], out: str | Path, overwrite: bool = False) -> lat.LatencyTable:
    """Join complete shard tables into the unsharded table, written atomically to `out`."""
    if not shards:
        raise fail("no shard files given")
    atomic.claim(out, "merge-latency-tables", {"shard file": list(shards)}, overwrite, folder=False,
                 ours=atomic.json_tagged(lat.FORMAT))
    merged = lat.merge([(Path(p), lat.read(p)) for p in shards])
    lat.write(out, merged)
    log("merge", f"{len(shards)} shards -> {out}: {len(merged.saved)} layers, base {merged.base_ms:.2f} ms, "
                 f"{merged.evaluations} pruned models timed")
    return merged
