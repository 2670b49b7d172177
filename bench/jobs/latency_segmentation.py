"""Latency target on the segmentation demo's model: prune-train at --target-speedup, against the
loss-threshold model."""
from __future__ import annotations

from pathlib import Path

NAME = "latency_segmentation"
DEPENDS = ("segmentation",)


def run(work: Path) -> list[str]:
    from bench.latency_target import latency_target_section

    return latency_target_section(work, "segmentation")
