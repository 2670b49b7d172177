"""Prune-train: stage 4, prune by sensitivities and retrain."""
from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def prune_train(model: Input[Model], dataset: Input[Dataset], sensitivities: Input[Artifact],
                pruned_model: Output[Model], metrics: Output[Metrics], eval_metric_loss: float = 0.05,
                pruned_flops: float = 0.0, align: int = -1, gpu_serving: bool = False, epochs: int = 5,
                batch_size: int = 16, learning_rate: float = 0.002, seed: int = 0):
    """Give either eval_metric_loss or pruned_flops (the other 0). align: channel multiple, 0 = none,
    -1 = 8 when gpu_serving (GPU and TensorRT run aligned widths faster), else none."""
    from slimpipe.kfp_io import report_failures

    report_failures("prune_train")

    from slimpipe.kfp_io import log_model
    from slimpipe.stages.prune_train import prune_train as run

    info = run(model.path, dataset.path, sensitivities.path, pruned_model.path,
               eval_metric_loss=eval_metric_loss or None, pruned_flops=pruned_flops or None,
               epochs=epochs, align=align, gpu_serving=gpu_serving, batch_size=batch_size,
               learning_rate=learning_rate, seed=seed)
    log_model(pruned_model, metrics, info)
