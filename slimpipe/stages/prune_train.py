"""Stage 4: prune each layer by the ratio its sensitivity allows, then retrain from the trained weights."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from slimpipe import atomic, defaults, modeldir
from slimpipe.errors import fail
from slimpipe.evaluation import dygraph_forward, evaluate
from slimpipe.progress import log
from slimpipe.pruning import latency_target, rules
from slimpipe.pruning import sensitivity as sens
from slimpipe.pruning.channels import ChannelPruner, model_stats
from slimpipe.stages.common import load_split_for
from slimpipe.tasks import get_task
from slimpipe.training import TrainSettings, fit


def choose_ratios(pruner: ChannelPruner, table: rules.Sensitivities, input_shape: list[int],
                  eval_metric_loss: float | None, pruned_flops: float | None,
                  align: int | None, base_flops: int, max_threshold: float = 1.0) -> dict[str, float]:
    """Per-layer ratios from a loss threshold, or the threshold that meets a FLOPs target
    (`rules.check_target` has been called)."""

    def adjust(ratios: dict[str, float]) -> dict[str, float]:
        return rules.align_ratios(ratios, pruner.channels, align)

    if eval_metric_loss is not None:
        return adjust(rules.ratios_by_loss(table, eval_metric_loss))

    def pruned_flops_of(ratios: dict[str, float]) -> float:
        with pruner.pruned(ratios):
            return 1.0 - model_stats(pruner.model, input_shape)["flops"] / base_flops

    ratios, achieved, threshold = rules.ratios_for_flops(table, pruned_flops, pruned_flops_of, adjust,
                                                         max_threshold)
    log("prune-train", f"pruned_flops target {pruned_flops:.3f}: threshold {threshold:.4f} "
                       f"gives {achieved:.3f}")
    if abs(achieved - pruned_flops) > 0.05:
        log("prune-train", f"warning: the sensitivities cannot meet pruned_flops {pruned_flops:.3f}; "
                           f"closest reachable is {achieved:.3f}")
    return ratios


def prune_train(model: str | Path, dataset: str | Path, sensitivities: str | Path, out: str | Path,
                eval_metric_loss: float | None = None, pruned_flops: float | None = None,
                epochs: int = defaults.PRUNE_EPOCHS, align: int | None = None, batch_size: int = defaults.BATCH_SIZE,
                learning_rate: float = defaults.PRUNE_LEARNING_RATE, seed: int = defaults.SEED,
                gpu_serving: bool = False, overwrite: bool = False,
                latency_table: str | Path | None = None, target_speedup: float | None = None,
                target_latency_ms: float | None = None, max_layer_loss: float | None = None,
                max_iterations: int = latency_target.DEFAULT_ITERATIONS,
                latency_plan: str | None = None) -> modeldir.ModelInfo:
    """Prune `model` by its sensitivities, retrain it on `dataset`, write the pruned model to `out`.
    Unset `align` is 8 when `gpu_serving` (see rules.resolve_align). A latency target (`target_speedup` or
    `target_latency_ms`, with the model's `latency_table`) prunes to that latency on the table's predictor
    settings, measured before retraining (see slimpipe/pruning/latency_target.py), with the ratios spread by
    `latency_plan` (latency_target.PLANS; default DEFAULT_PLAN)."""
    atomic.claim(out, "prune-train", {"model": model, "dataset": dataset, "sensitivities": sensitivities,
                                      "latency_table": latency_table}, overwrite)
    rules.check_target(eval_metric_loss, pruned_flops, target_speedup, target_latency_ms, latency_table,
                       max_layer_loss, latency_plan)
    explicit_align = align is not None and align > 0
    align = rules.resolve_align(align, gpu_serving)
    net, info = modeldir.load(model)
    if info.pruning:
        raise fail(f"{model}: this model is already pruned; prune the unpruned model instead")
    data = sens.read(sensitivities)
    sens.require_complete(data, Path(sensitivities))
    if eval_metric_loss is not None:
        sens.check_threshold(data, Path(sensitivities), eval_metric_loss)
    pruner = ChannelPruner(net, info.input_shape(), data["criterion"])
    sens.check_matches(data, Path(sensitivities), info.arch, pruner.fingerprint(), pruner.layers)
    if explicit_align:
        rules.check_align(align, {layer: pruner.channels[layer] for layer in data["table"]})
    goal = None
    if latency_table is not None:
        goal = latency_goal(latency_table, data, Path(sensitivities), info, pruner, target_speedup,
                            target_latency_ms, max_layer_loss, align, latency_plan)
    task = get_task(info.task)
    train_split = load_split_for(info, dataset, "train")
    val_split = load_split_for(info, dataset, "val")

    shape = info.input_shape()
    before = model_stats(net, shape)
    latency_record: dict[str, Any] = {"target_speedup": target_speedup, "target_latency_ms": target_latency_ms}
    if goal is not None:
        ratios, measured = prune_to_latency(goal, pruner, info, task, val_split, max_iterations)
        latency_record.update(measured)
    else:
        ratios = choose_ratios(pruner, data["table"], shape, eval_metric_loss, pruned_flops, align,
                               before["flops"], data.get("stop_loss") or 1.0)
        latency_record.update(dict.fromkeys(LATENCY_KEYS))
    pruner.prune(ratios, restorable=False)
    after = model_stats(net, shape)
    modeldir.check_export(net, info)  # before any training time is spent
    untrained = evaluate(dygraph_forward(net), task, val_split)[task.metric_name]
    log("prune-train", f"{len(ratios)} layers pruned: FLOPs {before['flops']:,} -> {after['flops']:,}, "
                       f"parameters {before['params']:,} -> {after['params']:,}; "
                       f"{task.metric_name} before retraining {untrained:.4f}")
    settings = TrainSettings(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed)
    best = fit(net, task, train_split, val_split, settings, label="prune-train")
    width = align or rules.GPU_ALIGN  # counted even when not enforced: it tells how GPU-friendly the widths are
    aligned = sum(1 for layer, r in ratios.items() if _kept(pruner, layer, r) % width == 0)
    pruned_info = replace(
        info, metrics=best, stats=after,
        pruning={"criterion": data["criterion"], "ratios": ratios, "align": align,
                 "eval_metric_loss": eval_metric_loss, "pruned_flops_target": pruned_flops,
                 "pruned_flops": 1.0 - after["flops"] / before["flops"],
                 "pruned_params": 1.0 - after["params"] / before["params"],
                 "aligned_layers": aligned, "aligned_to": width, "base_stats": before, "base_metrics": info.metrics,
                 "metric_before_retraining": untrained, **latency_record},
        training=settings.record(dataset))
    modeldir.save(out, net, pruned_info, "prune-train")
    log("prune-train", f"val {task.metric_name} {info.metrics.get(task.metric_name, float('nan')):.4f} -> "
                       f"{best[task.metric_name]:.4f}; pruned model written to {out}")
    return pruned_info


# What a latency target adds to model.json's `pruning` (None for the other targets): the table's settings and
# its unpruned latency and whether the loop refit it, the cap, the target in the table's time (what each
# model's latency relative to the unpruned one beside it, times the table's unpruned latency, was judged
# against: each iteration's judged_table_ms), the latency the tables predicted for the chosen ratios (before
# that model was timed), the pruned and the unpruned model's latency measured side by side on those settings
# before retraining (which does not change the architecture), and every iteration of the loop.
LATENCY_KEYS = ("latency_plan", "max_layer_loss", "latency_table", "target_table_ms", "predicted_ms",
                "predicted_speedup", "predicted_table_ms", "measured_ms", "base_ms", "iterations")
# Alternating rounds of the pruned and the unpruned model; each round's runs and settling runs are the
# table's (timing.timed_as), so that the loop judges a model as its table's plans were timed.
MEASURE_ROUNDS = 40


@dataclass
class LatencyGoal:
    """A latency target resolved against its table: `target_ms` is the table's unpruned latency over the
    speed-up (the table's time), or the milliseconds given (this host's time, carried into the table's by
    table_target_ms once the unpruned model has been timed here)."""

    table: Any  # slimpipe.pruning.latency.LatencyTable
    path: Path
    target_ms: float
    text: str  # the target as the user gave it, for messages
    speedup: bool  # a speed-up target, else milliseconds on this host
    knapsack: latency_target.Knapsack  # the choices the two tables allow under the per-layer loss cap


def latency_goal(path: str | Path, data: dict[str, Any], sens_path: Path, info: modeldir.ModelInfo,
                 pruner: ChannelPruner, target_speedup: float | None, target_latency_ms: float | None,
                 max_layer_loss: float | None, align: int | None, plan: str | None = None) -> LatencyGoal:
    """Read the latency table and check it before any work: the same model and input size, complete, every
    layer in the sensitivities, predictor settings this machine can run, and a speed-up within what the
    tables predict the loss cap allows (milliseconds are checked once carried into the table's time)."""
    from slimpipe.pruning import latency

    path = Path(path)
    table = latency.read(path)
    latency.check_matches(table, path, info.arch, pruner.fingerprint(), pruner.layers)
    latency.require_complete(table, path)
    if list(table.settings["input_size"]) != list(info.input_size):
        raise fail(f"{path}: measured at input size {table.settings['input_size']}, the model takes "
                   f"{info.input_size}")
    missing = sorted(set(table.layers) - set(data["table"]))
    if missing:
        raise fail(f"{sens_path}: no sensitivities for layer {missing[0]!r} of the latency table {path}"
                   + (f" ({len(missing) - 1} more)" if len(missing) > 1 else ""))
    predictor_settings(table, path)
    if target_speedup is not None:
        target_ms, text = table.base_ms / target_speedup, f"--target-speedup {target_speedup:g}"
    else:
        target_ms, text = target_latency_ms, f"--target-latency-ms {target_latency_ms:g}"
    capped = data.get("capped") or {}  # early stop: only "at least the cap" is known there
    measured = {layer: {r: loss for r, loss in losses.items() if sens.ratio_key(r) not in capped.get(layer, [])}
                for layer, losses in data["table"].items()}
    cap = latency_target.DEFAULT_MAX_LAYER_LOSS if max_layer_loss is None else max_layer_loss
    knapsack = latency_target.Knapsack(measured, table, cap, pruner.channels, align,
                                       latency_target.DEFAULT_PLAN if plan is None else plan)
    if target_speedup is not None:
        check_reach(knapsack, table, text, target_ms)
    return LatencyGoal(table, path, target_ms, text, target_speedup is not None, knapsack)


def check_reach(knapsack: latency_target.Knapsack, table, text: str, target_ms: float) -> None:
    """Refuse a target (in the table's time) before any timing only where the most the cap allows falls
    short even as the table's own measurement of every layer at once says whole plans save (a share above
    1: single savings understated), and by more than the fitted table's own error."""
    first = knapsack.choose(target_ms)
    if (not first.reached and first.saved_ms * max(table.share_together(), 1.0) < first.required_ms
            and first.predicted_ms > target_ms * (1 + tolerance(table))):
        raise latency_target.cannot_reach(text, target_ms, first)


def tolerance(table) -> float:
    """How far the table's prediction may miss (twice its fit's leave-one-out mean error; 0 for a table of
    single layers): a target the most the cap allows misses by less is measured, not refused."""
    return 2 * table.fit["loo_mean_error"] if table.fit else 0.0


def predictor_settings(table, path: Path):
    """The table's own predictor settings (device, MKLDNN, threads), refused where this machine cannot run
    them."""
    from slimpipe.inference import gpu_unavailable_reason

    if table.settings["device"] == "gpu":
        reason = gpu_unavailable_reason(False)
        if reason:
            raise fail(f"{path}: measured on GPU, which this machine cannot run: {reason}")
    return table.predictor_settings()


def table_target_ms(goal: LatencyGoal, base, feeds) -> float:
    """The target in the table's time, where the loop judges each model by its latency relative to the
    unpruned one timed beside it. A speed-up target already is; milliseconds (--target-latency-ms) are
    meant on this host as it runs now, which may be faster or slower than when the table was measured (on
    this bench host the same model moved between 15 and 19 ms within minutes), so they are carried over by
    the unpruned model's latency timed here first."""
    from slimpipe.pruning.timing import timed_as

    if goal.speedup:
        return goal.target_ms
    now = timed_as(goal.table, [base], feeds, MEASURE_ROUNDS)[0].median_ms
    if now <= goal.target_ms:
        raise fail(f"{goal.text}: the unpruned model already runs in {now:.3f} ms on this host now (its table, "
                   f"{goal.path}, measured {goal.table.base_ms:.3f} ms): nothing to prune for")
    target = goal.target_ms * goal.table.base_ms / now
    log("prune-train", f"{goal.text}: the unpruned model runs in {now:.3f} ms here now, {goal.table.base_ms:.3f} ms "
                       f"in its table: aiming at {target:.3f} ms in the table's time")
    return target


def prune_to_latency(goal: LatencyGoal, pruner: ChannelPruner, info: modeldir.ModelInfo, task, val_split,
                     max_iterations: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Ratios that meet the latency goal as measured (the knapsack, then measure and correct), with what
    model.json records of it (LATENCY_KEYS)."""
    import copy

    from slimpipe.pruning.latency import apply_fit, describe, latency_ratio
    from slimpipe.pruning.timing import exported_predictor, timed_as
    from slimpipe.stages.latency_table import timed_feeds

    net = pruner.model
    learning = goal.table.fitted  # each measured model joins the fit (latency_target's module doc)
    table = copy.deepcopy(goal.table) if learning else goal.table  # the refit lives in this run, not the file
    table_base = table.base_ms
    settings = predictor_settings(table, goal.path)
    shapes = task.input_shapes(info.input_size)  # the table's, checked by latency_goal
    feeds = timed_feeds(task, val_split, table.settings["batch"])
    knapsack = goal.knapsack.rebuilt(table) if learning else goal.knapsack
    current = [knapsack]  # refit after each measurement while learning
    where = "" if goal.speedup else " on this host"
    log("prune-train", f"{goal.text}: {goal.target_ms:.3f} ms{where}; the table's unpruned latency {table.base_ms:.3f} ms "
                       f"({describe(table.settings)}); no layer beyond loss {knapsack.cap:g}; plan {knapsack.plan}")
    base = exported_predictor(net, shapes, settings)
    target_ms = table_target_ms(goal, base, feeds)
    text = goal.text if goal.speedup else f"{goal.text} ({target_ms:.3f} ms in the table's time)"
    if not goal.speedup:
        check_reach(knapsack, table, text, target_ms)
    raw: list[dict[str, float]] = []

    def measure(ratios: dict[str, float]) -> float:
        with pruner.pruned(ratios):
            candidate = exported_predictor(net, shapes, settings)
        base_t, pruned_t = timed_as(table, [base, candidate], feeds, MEASURE_ROUNDS)
        # pruned / unpruned, the median over paired rounds (steadier than the ratio of the two medians)
        ratio, ratio_spread = latency_ratio(base_t.samples, pruned_t.samples)
        raw.append({"base_ms": base_t.median_ms, "measured_ms": base_t.median_ms * ratio,
                    "measured_spread_ms": base_t.median_ms * ratio_spread})
        log("prune-train", f"{len(ratios)} layers pruned: measured {base_t.median_ms * ratio:.3f} ms against the "
                           f"unpruned {base_t.median_ms:.3f} ms ({1 / ratio:.2f}x)")
        if learning:  # in the table's terms: the saved share; its base is the median the plans' bases keep
            table.plans.append({"index": -len(raw), "ratios": dict(ratios), "saved_frac": 1.0 - ratio,
                                "spread_frac": ratio_spread, "base_ms": table_base,
                                "weight": latency_target.LEARN_WEIGHT})
            apply_fit(table, refit=True)
            current[0] = current[0].rebuilt()
        # Judged against the unpruned model measured beside it, in the table's time
        return table_base * ratio

    share = table.share_together()  # the table's own measurement of every layer pruned at once
    first_aim = latency_target.first_aim(table.base_ms, target_ms, share)
    if share != 1.0:
        log("prune-train", f"the table's summed single-layer savings kept {share:.2f} of themselves with every layer "
                           f"pruned at once: aiming first at {first_aim:.3f} ms in its additive terms")
    outcome = latency_target.reach(target_ms, lambda aim: current[0].choose(aim), measure, max_iterations,
                                   text, first_aim_ms=first_aim, tolerance=tolerance(goal.table),
                                   learning=learning, predict=table.predicted_ms)  # `table`: refit in place
    iterations, taken = [], 0
    for it in outcome.iterations:  # each took one timing, or two where the first met the target (confirmed)
        timings = raw[taken:taken + len(it["measurements_ms"])]
        taken += len(timings)
        seen = max(timings, key=lambda t: t["measured_ms"] / t["base_ms"])  # the slower, as the loop judged
        # measured_ms in this run's time; judged_table_ms, what the loop compared with target_table_ms
        iterations.append(dict(it, judged_table_ms=it["measured_ms"], **seen,
                               measured_speedup=seen["base_ms"] / seen["measured_ms"],
                               measurements_ms=[t["measured_ms"] for t in timings],
                               measured_speedups=[t["base_ms"] / t["measured_ms"] for t in timings]))
    final = iterations[outcome.chosen - 1]  # the measured model that met the target with the least loss
    if learning:
        # The prediction the tables made when they chose the plan (refit with the models measured before it,
        # never with its own measurement)
        predicted_speedup = table_base / final["predicted_ms"]
        log("prune-train", f"the table was refit with each of the {taken} timings (weight "
                           f"{latency_target.LEARN_WEIGHT:g} plans each); the file {goal.path} is unchanged")
    else:
        # The prediction for the chosen plan, the overlap of single-layer savings corrected by the FLOPs the
        # plan removes at once (LatencyTable.interaction), then carried from the table's time to this run's.
        with pruner.pruned(outcome.ratios):
            flops_saved = (table.base_flops - model_stats(net, info.input_shape())["flops"] if table.base_flops
                           else None)
        predicted_speedup = table.predicted_speedup(outcome.ratios, flops_saved)
    log("prune-train", f"{goal.text} met after {len(iterations)} iteration(s) ({taken} timings), keeping iteration {outcome.chosen}: predicted "
                       f"{final['base_ms'] / predicted_speedup:.3f} ms, measured {final['measured_ms']:.3f} ms "
                       f"({final['measured_speedup']:.2f}x), summed sensitivity loss {final['loss']:.4f}")
    return outcome.ratios, {"latency_plan": knapsack.plan, "max_layer_loss": knapsack.cap,
                            "latency_table": {"settings": table.settings, "base_ms": table_base,
                                              "ratios": list(table.ratios), "refit": learning},
                            "predicted_ms": final["base_ms"] / predicted_speedup,
                            "predicted_speedup": predicted_speedup,
                            "target_table_ms": target_ms,
                            "predicted_table_ms": table_base / predicted_speedup,
                            "measured_ms": final["measured_ms"],
                            "base_ms": final["base_ms"], "iterations": iterations}


def _kept(pruner: ChannelPruner, layer: str, ratio: float) -> int:
    return pruner.channels[layer] - int(round(pruner.channels[layer] * ratio))
