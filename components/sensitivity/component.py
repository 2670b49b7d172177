"""Sensitivity: stage 2, per-layer sensitivity as JSON."""
from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

from components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def sensitivity(model: Input[Model], dataset: Input[Dataset], sensitivities: Output[Artifact],
                criterion: str = "l1_norm", ratios: str = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9",
                threads: int = 2, checkpoint: str = "", shard: str = "", stop_loss: float = 0.0,
                subset: int = 0):
    """Evaluate every prunable layer (or shard `i/n`'s share) at every ratio on the validation split. With
    `checkpoint` (an object-store URI or path), partial results are saved there, so a retried pod resumes.
    `stop_loss` > 0 stops a layer once its loss reaches it; `subset` > 0 measures on that many val images."""
    from slimpipe.kfp_io import report_failures

    report_failures("sensitivity")

    from slimpipe.pruning.sensitivity import parse_ratios
    from slimpipe.stages.sensitivity import parse_shard
    from slimpipe.stages.sensitivity import sensitivity as run

    data = run(model.path, dataset.path, sensitivities.path, criterion=criterion,
               ratios=parse_ratios(ratios), threads=threads, checkpoint=checkpoint or None,
               shard=parse_shard(shard) if shard else None, stop_loss=stop_loss or None, subset=subset or None)
    sensitivities.metadata.update({"metric": data["metric"], "baseline": data["baseline"],
                                   "criterion": criterion, "evaluations": data["evaluations"],
                                   "layers": len(data["sensitivities"])})
