"""GPU (TensorRT): says whether this machine could time the models on a GPU; no GPU figure is measured yet."""
from __future__ import annotations

from pathlib import Path

NAME = "gpu"
DEPENDS: tuple[str, ...] = ()


def run(work: Path) -> list[str]:
    from slimpipe.inference import gpu_unavailable_reason

    reason = gpu_unavailable_reason(trt=True)
    if reason:
        return ["## GPU (TensorRT)", "", f"Not measured: {reason} (on the machine that ran `make bench`).", ""]
    return ["## GPU (TensorRT)", "", "A GPU is present: run `slimpipe benchmark --device gpu --trt` on the "
            "demo models; this bench does not time GPUs yet, so no figure is given here.", ""]
