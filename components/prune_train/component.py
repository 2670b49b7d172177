"""Prune-train: stage 4, prune by sensitivities and retrain."""
from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from slimpipe.components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def prune_train(model: Input[Model], dataset: Input[Dataset], sensitivities: Input[Artifact],
                pruned_model: Output[Model], metrics: Output[Metrics], eval_metric_loss: float = 0.05,
                pruned_flops: float = 0.0, align: int = -1, gpu_serving: bool = False, epochs: int = 5,
                batch_size: int = 16, learning_rate: float = 0.002, seed: int = 0,
                latency_table: Input[Artifact] = None, target_speedup: float = 0.0, target_latency_ms: float = 0.0,
                max_layer_loss: float = 0.0, latency_plan: str = ""):
    """Give one of eval_metric_loss, pruned_flops, target_speedup and target_latency_ms (0 = unset); a
    latency target or pruned_flops replaces eval_metric_loss. A latency target needs `latency_table` (read
    only then). GPU and TensorRT run aligned widths faster, hence `align` -1.

    Args:
        model: the trained (unpruned) model.
        dataset: the dataset to retrain on.
        sensitivities: the sensitivity analysis of this model.
        eval_metric_loss: largest relative metric loss per layer, in (0, 1).
        pruned_flops: fraction of FLOPs to remove, in (0, 1); 0 = unset.
        align: keep channel counts at multiples of this; 0 = none, -1 = 8 when gpu_serving, else none.
        gpu_serving: the model will be served on GPU: align widths to 8 unless an alignment is given.
        epochs: retraining epochs.
        batch_size: training batch size.
        learning_rate: initial learning rate, cosine-decayed.
        seed: random seed.
        latency_table: latency table of this model, for a latency target.
        target_speedup: speed-up to reach over the unpruned model, above 1, measured on the latency table's
            predictor settings (needs a latency table); 0 = unset.
        target_latency_ms: latency to reach, ms per run() on the latency table's predictor settings (needs a
            latency table); 0 = unset.
        max_layer_loss: with a latency target: the largest sensitivity loss any one layer may take, in (0, 1];
            0 = the default.
        latency_plan: with a latency target: how the ratios are spread over the layers, knapsack (the least
            summed squared sensitivity loss) or threshold (one loss threshold for every layer, the smallest
            that reaches the target; keeps more capacity where retraining must recover it, as a detector's);
            empty = knapsack.
    """
    from slimpipe.kfp_io import report_failures

    report_failures("prune_train")

    from slimpipe.kfp_io import given, log_model, path_of
    from slimpipe.pruning.rules import pipeline_target
    from slimpipe.stages.prune_train import prune_train as run

    target = pipeline_target(eval_metric_loss, pruned_flops, target_speedup, target_latency_ms)
    latency = bool(target_speedup or target_latency_ms)
    info = run(model.path, dataset.path, sensitivities.path, pruned_model.path, **target, epochs=epochs, align=align,
               gpu_serving=gpu_serving, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
               latency_table=path_of(latency_table) if latency else None,
               max_layer_loss=given(max_layer_loss), latency_plan=given(latency_plan))
    log_model(pruned_model, metrics, info)
