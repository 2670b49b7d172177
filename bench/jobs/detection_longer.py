"""The detection demo's detector trained longer, so that the mAP drop is measured from a detector that finds
objects (the demo's 5 minutes leave it at a low mAP), and judged against an unpruned control."""
from __future__ import annotations

from pathlib import Path

NAME = "detection_longer"
DEPENDS: tuple[str, ...] = ()  # writes its own copy of the shapes sample
OUTPUTS = (f"{NAME}/detection-sample", f"{NAME}/model", f"{NAME}/pruned")
EPOCHS = 80


def run(work: Path, epochs: int = EPOCHS) -> list[str]:
    """The demo's detector trained `epochs` instead of 12, pruned and retrained 12, with the control."""
    from bench.pruning import Targets, staged_section
    from slimpipe.demo import DEMO_SETTINGS
    from slimpipe.models.registry import parse_options
    from slimpipe.tasks import get_task

    demo = DEMO_SETTINGS["detection"]
    data = work / NAME / "detection-sample"
    if not (data / "labels.txt").exists():
        get_task("detection").write_sample(data)
    t = Targets(f"Object detection, trained {epochs} epochs (YOLOv3-MobileNetV1, bundled shapes sample)", 0, 1.4,
                1.0, params=0.4)
    size = (demo.input_size, demo.input_size)
    train_kwargs = {"task": "detection", "arch": demo.arch, "arch_options": parse_options(demo.arch_options),
                    "input_size": size, "epochs": epochs, "batch_size": demo.batch_size}
    return staged_section(work, NAME, data, t, train_kwargs,
                          {"epochs": 12, "batch_size": demo.batch_size},
                          f"the detection demo's model and settings, train {epochs} epochs, sensitivity, prune-train "
                          "--eval-metric-loss 0.05 12 epochs, benchmark, unpruned control", control=True)
