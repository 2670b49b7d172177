"""Prune-train: stage 4, prune by sensitivities and retrain."""
from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def prune_train(model: Input[Model], dataset: Input[Dataset], sensitivities: Input[Artifact],
                pruned_model: Output[Model], metrics: Output[Metrics], eval_metric_loss: float = 0.05,
                pruned_flops: float = 0.0, align: int = -1, gpu_serving: bool = False, epochs: int = 5,
                batch_size: int = 16, learning_rate: float = 0.002, seed: int = 0,
                latency_table: Input[Artifact] = None, target_speedup: float = 0.0, target_latency_ms: float = 0.0,
                max_layer_loss: float = 0.0):
    """Give one of eval_metric_loss, pruned_flops, target_speedup and target_latency_ms (0 = unset); a
    latency target or pruned_flops replaces eval_metric_loss. A latency target needs `latency_table`, the
    model's latency table (read only then); max_layer_loss is its per-layer loss cap, 0 = the default.
    align: channel multiple, 0 = none, -1 = 8 when gpu_serving (GPU and TensorRT run aligned widths faster),
    else none."""
    from slimpipe.kfp_io import report_failures

    report_failures("prune_train")

    from slimpipe.kfp_io import log_model
    from slimpipe.pruning.rules import pipeline_target
    from slimpipe.stages.prune_train import prune_train as run

    target = pipeline_target(eval_metric_loss, pruned_flops, target_speedup, target_latency_ms)
    latency = bool(target_speedup or target_latency_ms)
    info = run(model.path, dataset.path, sensitivities.path, pruned_model.path, **target, epochs=epochs, align=align,
               gpu_serving=gpu_serving, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
               latency_table=latency_table.path if latency and latency_table is not None else None,
               max_layer_loss=max_layer_loss or None)
    log_model(pruned_model, metrics, info)
