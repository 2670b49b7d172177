"""Object detection: the demo (`make demo TASK=detection`) timed and measured, its figures judged against the
task's targets."""
from __future__ import annotations

from pathlib import Path

from bench.common import demo_outputs

NAME = "detection"
DEPENDS: tuple[str, ...] = ()
OUTPUTS = demo_outputs(NAME)


def run(work: Path) -> list[str]:
    from bench.pruning import demo_section

    return demo_section(work, NAME)
