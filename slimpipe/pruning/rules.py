"""From sensitivities to per-layer ratios: the reference systems' rules, as pure functions."""
from __future__ import annotations

import math
from typing import Callable

from slimpipe.errors import fail

Sensitivities = dict[str, dict[float, float]]


def ratio_for_loss(losses: dict[float, float], threshold: float) -> float:
    """The largest ratio whose loss stays within `threshold`, interpolated linearly towards the next
    measured ratio (PaddleSlim's `get_ratios_by_loss`); 0 when even the smallest ratio costs too much."""
    points = sorted(losses.items())
    for i in range(len(points) - 1, -1, -1):
        r0, l0 = points[i]
        if l0 <= threshold:
            if i == len(points) - 1:
                return float(r0)
            r1, l1 = points[i + 1]
            return float(r0 + (threshold - l0) * (r1 - r0) / (l1 - l0))
    return 0.0


def ratios_by_loss(sensitivities: Sensitivities, threshold: float) -> dict[str, float]:
    """Per-layer ratios for an `eval_metric_loss` threshold; layers that cannot be pruned are left out."""
    check_loss(threshold)
    ratios = {layer: ratio_for_loss(losses, threshold) for layer, losses in sensitivities.items()}
    return {layer: r for layer, r in ratios.items() if r > 0}


def check_loss(threshold: float) -> float:
    if not 0.0 < threshold < 1.0:
        raise fail(f"eval_metric_loss {threshold} is outside (0, 1)")
    return threshold


def check_layer_loss(cap: float) -> float:
    """A latency target's per-layer loss cap (--max-layer-loss), in (0, 1]."""
    if not 0.0 < cap <= 1.0:
        raise fail(f"max_layer_loss {cap} is outside (0, 1]")
    return cap


def check_flops(target: float) -> float:
    if not 0.0 < target < 1.0:
        raise fail(f"pruned_flops {target} is outside (0, 1)")
    return target


def check_target(eval_metric_loss: float | None, pruned_flops: float | None, target_speedup: float | None = None,
                 target_latency_ms: float | None = None, latency_table: object | None = None,
                 max_layer_loss: float | None = None, latency_plan: str | None = None) -> None:
    """Exactly one pruning target, inside its range: checked before any work starts. A latency target
    (speed-up or milliseconds) needs a latency table, which nothing else uses, and may carry a per-layer
    loss cap and a plan (latency_target.PLANS)."""
    given = [v for v in (eval_metric_loss, pruned_flops, target_speedup, target_latency_ms) if v is not None]
    if len(given) != 1:
        raise fail("give exactly one of --eval-metric-loss, --pruned-flops, --target-speedup and --target-latency-ms")
    latency = target_speedup is not None or target_latency_ms is not None
    if latency and latency_table is None:
        flag = "--target-speedup" if target_speedup is not None else "--target-latency-ms"
        raise fail(f"{flag} needs --latency-table: the latency table of this model (`slimpipe latency-table`)")
    if not latency and latency_table is not None:
        raise fail("--latency-table is used only with --target-speedup or --target-latency-ms")
    if not latency and max_layer_loss is not None:
        raise fail("--max-layer-loss applies only to --target-speedup and --target-latency-ms")
    if not latency and latency_plan is not None:
        raise fail("--latency-plan applies only to --target-speedup and --target-latency-ms")
    if latency_plan is not None:
        from slimpipe.pruning.latency_target import check_plan

        check_plan(latency_plan)
    if eval_metric_loss is not None:
        check_loss(eval_metric_loss)
    elif pruned_flops is not None:
        check_flops(pruned_flops)
    elif target_speedup is not None and not (math.isfinite(target_speedup) and target_speedup > 1.0):
        raise fail(f"target_speedup {target_speedup} must be above 1 (the unpruned model's speed)")
    elif target_latency_ms is not None and not (math.isfinite(target_latency_ms) and target_latency_ms > 0.0):
        raise fail(f"target_latency_ms {target_latency_ms} must be above 0")
    if max_layer_loss is not None:
        check_layer_loss(max_layer_loss)


GPU_ALIGN = 8  # channel multiple that GPU kernels and TensorRT run fastest (tensor cores)


def resolve_align(align: int | None, gpu_serving: bool = False) -> int | None:
    """The alignment to use: `align` when given (0 = none); unset (None or negative) = GPU_ALIGN when the
    model will be served on GPU, none otherwise."""
    if align is None or align < 0:
        return GPU_ALIGN if gpu_serving else None
    return align or None


def check_align(align: int | None, channels: dict[str, int]) -> None:
    """Refuse an alignment wider than a prunable layer (`channels`: width by layer): such a layer could
    never be pruned to a multiple of it."""
    if not align or align <= 1 or not channels:
        return
    narrowest = min(channels, key=channels.get)
    if align > channels[narrowest]:
        raise fail(f"--align {align} is wider than layer {narrowest!r}, which has {channels[narrowest]} channels; "
                   f"use an alignment of at most {channels[narrowest]}, or 0 for none")


def align_ratios(ratios: dict[str, float], channels: dict[str, int], align: int | None) -> dict[str, float]:
    """Round each layer's kept channels to a multiple of `align` (at least `align`), as PaddleSlim's
    `_round_to`; GPUs and TensorRT run such widths faster."""
    if not align or align <= 1:
        return dict(ratios)
    out = {}
    for layer, ratio in ratios.items():
        n = channels[layer]
        kept = max(align, int(round((1.0 - ratio) * n / align)) * align)
        kept = min(kept, n)
        if kept < n:
            out[layer] = (n - kept) / n
    return out


def ratios_for_flops(sensitivities: Sensitivities, target: float,
                     pruned_flops_of: Callable[[dict[str, float]], float],
                     adjust: Callable[[dict[str, float]], dict[str, float]] = dict,
                     max_threshold: float = 1.0) -> tuple[dict[str, float], float, float]:
    """Bisect the loss threshold in [0, max_threshold] (1, or an early-stop cap) until the pruned FLOPs
    fraction matches `target` (PaddleSlim's `sensitive_prune`); stops when the FLOPs figure repeats.
    Returns (ratios, pruned fraction, threshold)."""
    check_flops(target)
    low, high, seen = 0.0, max_threshold, set()
    best = ({}, 0.0, 0.0)
    for _ in range(60):
        threshold = (low + high) / 2
        ratios = adjust(ratios_by_loss(sensitivities, threshold))
        achieved = pruned_flops_of(ratios)
        best = (ratios, achieved, threshold)
        key = round(achieved, 4)
        if key in seen or achieved == target:
            break
        seen.add(key)
        if achieved < target:
            low = threshold
        else:
            high = threshold
    return best


def pipeline_target(eval_metric_loss: float, pruned_flops: float = 0.0, target_speedup: float = 0.0,
                    target_latency_ms: float = 0.0) -> dict[str, float | None]:
    """The pipeline's pruning target as check_target's keyword arguments. Pipeline parameters cannot be unset,
    so 0 means unset: `eval_metric_loss` (which has a default) applies unless `pruned_flops`, `target_speedup` or
    `target_latency_ms` is given, and at most one of those three may be."""
    others = {"pruned_flops": pruned_flops, "target_speedup": target_speedup, "target_latency_ms": target_latency_ms}
    given = {k: v for k, v in others.items() if v}
    if len(given) > 1:
        raise fail(f"give at most one of {', '.join(given)} (each replaces eval_metric_loss); got "
                   + ", ".join(f"{k} {v}" for k, v in given.items()))
    target = {"eval_metric_loss": None if given else eval_metric_loss} | {k: v or None for k, v in others.items()}
    check_target(**target, latency_table=True if target_speedup or target_latency_ms else None)
    return target
