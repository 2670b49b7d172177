"""Tasks carry what differs between classification, segmentation and detection: data, loss, metric."""
from __future__ import annotations

from slimpipe.errors import fail
from slimpipe.tasks.base import Split, Task


def get_task(name: str) -> Task:
    """The task registered under `name`."""
    from slimpipe.tasks.classification import ClassificationTask
    from slimpipe.tasks.detection import DetectionTask
    from slimpipe.tasks.segmentation import SegmentationTask

    tasks: dict[str, Task] = {t.name: t for t in (ClassificationTask(), SegmentationTask(), DetectionTask())}
    if name not in tasks:
        raise fail(f"unknown task {name!r}; available: {', '.join(sorted(tasks))}")
    return tasks[name]


__all__ = ["Split", "Task", "get_task"]
