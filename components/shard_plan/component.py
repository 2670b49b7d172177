"""Shard plan: the shard names ("0/2", "1/2") a ParallelFor fans the sensitivity analysis out over."""
from typing import List

from kfp import dsl

from slimpipe.components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def shard_plan(count: int) -> List[str]:
    """`count` shards as `i/count` (count 1 = the whole analysis as one shard).

    Args:
        count: number of shards, at least 1.
    """
    from slimpipe.kfp_io import report_failures

    report_failures("shard_plan")

    from slimpipe.stages.sensitivity import shard_names

    return shard_names(count)
