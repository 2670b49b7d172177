"""Stage 4: prune each layer by the ratio its sensitivity allows, then retrain from the trained weights."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from slimpipe import atomic, modeldir
from slimpipe.errors import fail
from slimpipe.evaluation import dygraph_forward, evaluate
from slimpipe.progress import log
from slimpipe.pruning import rules
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
                eval_metric_loss: float | None = None, pruned_flops: float | None = None, epochs: int = 5,
                align: int | None = None, batch_size: int = 16, learning_rate: float = 0.002,
                seed: int = 0, gpu_serving: bool = False, overwrite: bool = False) -> modeldir.ModelInfo:
    """Prune `model` by its sensitivities, retrain it on `dataset`, write the pruned model to `out`.
    Unset `align` is 8 when `gpu_serving` (see rules.resolve_align)."""
    atomic.claim(out, "prune-train", {"model": model, "dataset": dataset, "sensitivities": sensitivities},
                 overwrite)
    rules.check_target(eval_metric_loss, pruned_flops)
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
    task = get_task(info.task)
    train_split = load_split_for(info, dataset, "train")
    val_split = load_split_for(info, dataset, "val")

    shape = info.input_shape()
    before = model_stats(net, shape)
    ratios = choose_ratios(pruner, data["table"], shape, eval_metric_loss, pruned_flops, align, before["flops"],
                           data.get("stop_loss") or 1.0)
    pruner.prune(ratios)
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
                 "metric_before_retraining": untrained},
        training=settings.record(dataset))
    modeldir.save(out, net, pruned_info, "prune-train")
    log("prune-train", f"val {task.metric_name} {info.metrics.get(task.metric_name, float('nan')):.4f} -> "
                       f"{best[task.metric_name]:.4f}; pruned model written to {out}")
    return pruned_info


def _kept(pruner: ChannelPruner, layer: str, ratio: float) -> int:
    return pruner.channels[layer] - int(round(pruner.channels[layer] * ratio))
