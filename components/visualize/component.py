"""Visualize: stage 3, the sensitivity curve as an HTML artifact (plot embedded) and the plot files."""
from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Model, Output

from components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def visualize(model: Input[Model], sensitivities: Input[Artifact], page: Output[HTML], plots: Output[Artifact]):
    """sensitivities.png, layers.png and curve.json in `plots`; the self-contained page in `page`."""
    from slimpipe.kfp_io import report_failures

    report_failures("visualize")

    import shutil

    from slimpipe.stages.visualize import visualize as run

    result = run(model.path, sensitivities.path, plots.path)
    shutil.copyfile(f"{plots.path}/index.html", page.path)
    plots.metadata["summary"] = result["summary"]
