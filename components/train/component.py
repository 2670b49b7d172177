"""Train: stage 1 of the pruning workflow."""
from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from slimpipe.components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def train(dataset: Input[Dataset], model: Output[Model], metrics: Output[Metrics],
          task: str = "classification", arch: str = "", arch_options: str = "", input_size: int = 0,
          epochs: int = 10, batch_size: int = 16, learning_rate: float = 0.003, seed: int = 0):
    """Train `arch` (the task's default when empty) and export it; input_size 0 = the arch's default.

    Args:
        dataset: dataset folder in the PaddleX format (labels.txt, train_list.txt, val_list.txt).
        task: classification, segmentation or detection.
        arch: architecture; empty = the task's default.
        arch_options: architecture options, e.g. scale=0.35; empty = the reference settings.
        input_size: model input size, square; 0 = the architecture's default.
        epochs: training epochs.
        batch_size: training batch size.
        learning_rate: initial learning rate, cosine-decayed.
        seed: random seed.
    """
    from slimpipe.kfp_io import report_failures

    report_failures("train")

    from slimpipe.kfp_io import given, log_model
    from slimpipe.models.registry import parse_options
    from slimpipe.stages.train import train as run

    info = run(dataset.path, model.path, task=task, arch=given(arch), epochs=epochs,
               input_size=(input_size, input_size) if input_size else None,
               arch_options=parse_options(arch_options), batch_size=batch_size,
               learning_rate=learning_rate, seed=seed)
    log_model(model, metrics, info)
