"""Visualize: stage 3, the sensitivity curve as an HTML artifact (plot embedded) and the plot files."""
from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Model, Output

from slimpipe.components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def visualize(model: Input[Model], sensitivities: Input[Artifact], page: Output[HTML], plots: Output[Artifact],
              latency_table: Input[Artifact] = None):
    """sensitivities.png, layers.png and curve.json in `plots` (and latency.png, the latency each layer saves
    against the metric it loses, when `latency_table` holds a measured table); the self-contained page in `page`.

    Args:
        model: the trained model the sensitivities belong to.
        sensitivities: the sensitivity analysis (merged).
        latency_table: the model's latency table; one that records that none was asked for is ignored.
    """
    from slimpipe.kfp_io import report_failures

    report_failures("visualize")

    import shutil

    from slimpipe.kfp_io import path_of
    from slimpipe.stages.visualize import visualize as run

    result = run(model.path, sensitivities.path, plots.path, latency_table=path_of(latency_table))
    shutil.copyfile(f"{plots.path}/index.html", page.path)
    plots.metadata["summary"] = result["summary"]
