"""Where the longer-trained detector's time goes, base against its eval_metric_loss 0.05 model (issue 15:
the detector's speed-up efficiency is 0.52; the target is 0.8 or a measured breakdown): backbone, neck and
heads, post-processing, each timed side by side (bench/breakdown.py)."""
from __future__ import annotations

from pathlib import Path

NAME = "detection_breakdown"
DEPENDS = ("detection_longer",)


def run(work: Path) -> list[str]:
    from bench.breakdown import ROUNDS, REPEATS, measure, rows
    from bench.common import table

    folder = work / "detection_longer"
    parts = measure(folder / "model", folder / "pruned", folder / "detection-sample")
    cmd = (f"python -m bench.run --only {NAME} (the detection_longer models' programs cut after the backbone and "
           f"before post-processing, {ROUNDS} alternating rounds x {REPEATS} runs, CPU, MKLDNN off, 1 thread)")
    return ["## Detector: where the time goes (trained 80 epochs, eval_metric_loss 0.05, neck pruned)", "",
            *table(rows(parts, cmd))]
