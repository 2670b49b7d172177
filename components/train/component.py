"""Train: stage 1 of the pruning workflow."""
from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def train(dataset: Input[Dataset], model: Output[Model], metrics: Output[Metrics],
          task: str = "classification", arch: str = "", arch_options: str = "", input_size: int = 0,
          epochs: int = 10, batch_size: int = 16, learning_rate: float = 0.003, seed: int = 0):
    """Train `arch` (the task's default when empty) and export it; input_size 0 = the arch's default."""
    from slimpipe.kfp_io import report_failures

    report_failures("train")

    from slimpipe.kfp_io import log_model
    from slimpipe.models.registry import parse_options
    from slimpipe.stages.train import train as run

    info = run(dataset.path, model.path, task=task, arch=arch or None, epochs=epochs,
               input_size=(input_size, input_size) if input_size else None,
               arch_options=parse_options(arch_options), batch_size=batch_size,
               learning_rate=learning_rate, seed=seed)
    log_model(model, metrics, info)
