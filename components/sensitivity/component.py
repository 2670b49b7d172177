"""Sensitivity: stage 2, per-layer sensitivity as JSON."""
from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

from slimpipe.components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def sensitivity(model: Input[Model], dataset: Input[Dataset], sensitivities: Output[Artifact],
                criterion: str = "l1_norm", ratios: str = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9",
                threads: int = 2, workers: int = 1, checkpoint: str = "", shard: str = "", stop_loss: float = 0.0,
                subset: int = 0):
    """Evaluate every prunable layer (or shard `i/n`'s share) at every ratio on the validation split. With a
    `checkpoint`, a retried pod resumes.

    Args:
        model: the trained model.
        dataset: the dataset; its val split is used.
        criterion: channel ranking, l1_norm or fpgm.
        ratios: comma-separated ratios to try per layer.
        threads: CPU threads for evaluation, shared among the workers.
        workers: processes evaluating at once (the component's own among them), each with threads / workers
            threads (at least 1) and a copy of the model.
        checkpoint: object-store URI (s3://bucket/key.json) or path to checkpoint partial results to; empty =
            none.
        shard: measure only shard i/n (every n-th layer from the i-th); empty = every layer.
        stop_loss: stop a layer once its loss reaches this, recording larger ratios as 'at least' it; 0 = off.
        subset: measure on a fixed, seeded, class-balanced subset of this many val images; 0 = all.
    """
    from slimpipe.kfp_io import report_failures

    report_failures("sensitivity")

    from slimpipe.kfp_io import given
    from slimpipe.pruning.sensitivity import parse_ratios
    from slimpipe.stages.sensitivity import parse_shard
    from slimpipe.stages.sensitivity import sensitivity as run

    data = run(model.path, dataset.path, sensitivities.path, criterion=criterion,
               ratios=parse_ratios(ratios), threads=threads, workers=workers, checkpoint=given(checkpoint),
               shard=parse_shard(shard) if shard else None, stop_loss=given(stop_loss), subset=given(subset))
    sensitivities.metadata.update({"metric": data["metric"], "baseline": data["baseline"],
                                   "criterion": criterion, "evaluations": data["evaluations"],
                                   "layers": len(data["sensitivities"])})
