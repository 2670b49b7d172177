"""Merge sensitivities: join the shards of a sensitivity analysis (collected from a ParallelFor)."""
from typing import List

from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from slimpipe.components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def merge_sensitivities(shards: Input[List[Artifact]], sensitivities: Output[Artifact]):
    """Refuses shards of different models, metrics or baselines, and an incomplete set of shards.

    Args:
        shards: the complete shard analyses, one per shard.
    """
    from slimpipe.kfp_io import report_failures

    report_failures("merge_sensitivities")

    from slimpipe.stages.sensitivity import merge_sensitivities as run

    data = run([shard.path for shard in shards], sensitivities.path)
    sensitivities.metadata.update({"metric": data["metric"], "baseline": data["baseline"],
                                   "evaluations": data["evaluations"], "shards": len(shards),
                                   "seconds_per_evaluation": data["seconds_per_evaluation"]})
