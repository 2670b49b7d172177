"""Fast-SCNN, the lightweight PaddleSeg network, trained and pruned through the stage functions on the
segmentation demo's sample."""
from __future__ import annotations

from pathlib import Path

from bench.common import demo_dir

NAME = "fast_scnn"
DEPENDS = ("segmentation",)  # the bundled fundus sample, as the segmentation demo wrote it


def run(work: Path) -> list[str]:
    from bench.pruning import Targets, staged_section

    t = Targets("Semantic segmentation (Fast-SCNN, bundled fundus sample)", 300, 1.8, 1.0, params=0.5)
    return staged_section(work, NAME, demo_dir(work, "segmentation") / "segmentation-sample", t,
                          {"task": "segmentation", "arch": "fast_scnn", "epochs": 6}, {"epochs": 4},
                          "train 6 epochs, sensitivity, prune-train --eval-metric-loss 0.05 4 epochs, benchmark")
