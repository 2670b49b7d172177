"""Evaluate a model over a split through any forward function: dygraph or an inference predictor."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from slimpipe.tasks import Split, Task

Forward = Callable[[list[np.ndarray]], Any]  # an array, or a tuple of arrays for several outputs


BATCH_SIZE = 128


def evaluate(forward: Forward, task: Task, split: Split, batch_size: int = BATCH_SIZE) -> dict[str, Any]:
    """The task's metrics over `split`, computed batch by batch in order."""
    return task.score([forward(feeds) for feeds in batches(task, split, batch_size)], split)


def batches(task: Task, split: Split, batch_size: int = BATCH_SIZE):
    """The task's feeds for `split`, batch by batch in order."""
    for start in range(0, len(split), batch_size):
        yield task.feeds(split, np.arange(start, min(start + batch_size, len(split))))


def dygraph_forward(model) -> Forward:
    """A no-grad eval-mode forward of a paddle.nn.Layer."""
    import paddle

    def forward(feeds: list[np.ndarray]) -> np.ndarray | tuple[np.ndarray, ...]:
        model.eval()
        with paddle.no_grad():
            out = model(*[paddle.to_tensor(f) for f in feeds])
        return tuple(o.numpy() for o in out) if isinstance(out, (tuple, list)) else out.numpy()

    return forward
