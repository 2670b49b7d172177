"""Stage 2: per-layer sensitivity of the trained model on the validation split."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from slimpipe import modeldir
from slimpipe.checkpoint import Checkpoint
from slimpipe.evaluation import evaluate
from slimpipe.progress import log
from slimpipe.pruning import sensitivity as sens
from slimpipe.pruning.channels import ChannelPruner
from slimpipe.pruning.masked_eval import MaskedEvaluator
from slimpipe.stages.common import load_split_for
from slimpipe.tasks import get_task


def sensitivity(model: str | Path, dataset: str | Path, out: str | Path, criterion: str = "l1_norm",
                ratios: Sequence[float] = sens.DEFAULT_RATIOS, threads: int = 2,
                checkpoint: str | None = None) -> dict[str, Any]:
    """Measure every prunable layer at every ratio; resumes from `out` if it holds a partial run, or from
    `checkpoint` (an object-store URI or a path) where `out` does not exist yet."""
    keeper = Checkpoint(checkpoint) if checkpoint else None
    if keeper:
        keeper.restore(Path(out))
    net, info = modeldir.load(model)
    task = get_task(info.task)
    val = load_split_for(info, dataset, "val")
    pruner = ChannelPruner(net, info.input_shape(), criterion)
    layers = pruner.verified_layers(info.input_shape())
    evaluator = MaskedEvaluator(net, task.input_shapes(info.input_size), threads=threads)
    baseline = float(evaluate(evaluator.predictor(), task, val)[task.metric_name])
    log("sensitivity", f"baseline {task.metric_name} {baseline:.4f} on {len(val)} val images "
                       f"({len(layers)} prunable layers, criterion {criterion})")

    def evaluate_pruned(layer: str, ratio: float) -> float:
        with pruner.masked(layer, ratio) as changed:
            predictor = evaluator.predictor(changed)
        return float(evaluate(predictor, task, val)[task.metric_name])

    header = {"task": info.task, "arch": info.arch, "fingerprint": pruner.fingerprint(),
              "metric": task.metric_name, "criterion": criterion,
              "layers": {layer: pruner.channels[layer] for layer in layers}}
    on_save = (lambda path, final: keeper.save(path, force=final)) if keeper else None
    return sens.compute(Path(out), header, layers, list(ratios), baseline, evaluate_pruned, on_save)
