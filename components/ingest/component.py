"""Ingest: bring the dataset named by a pipeline parameter into a Dataset artifact."""
from kfp import dsl
from kfp.dsl import Dataset, Output

from slimpipe.components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def ingest(dataset_uri: str, dataset: Output[Dataset], task: str = "classification"):
    """Copy (or download) the dataset folder at `dataset_uri` and validate its list files.

    Args:
        dataset_uri: dataset folder or object-store URI (s3://bucket/prefix).
        task: classification, segmentation or detection.
    """
    from slimpipe.kfp_io import report_failures

    report_failures("ingest")

    from slimpipe.stages.ingest import ingest as run

    summary = run(dataset_uri, dataset.path, task=task)
    dataset.metadata.update(summary)
