"""The task interface the stages program against, so a new task needs no change to any stage."""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from slimpipe.data import listfile


@dataclass
class Split:
    """One split loaded in memory: images (uint8 NHWC, already at the model's input size) and targets."""

    images: np.ndarray
    targets: Any
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, index: np.ndarray) -> "Split":
        """The samples at `index`, targets kept aligned whatever their type."""
        if isinstance(self.targets, np.ndarray):
            targets = self.targets[index]
        else:
            targets = [self.targets[i] for i in index]
        return Split(self.images[index], targets, [self.sources[i] for i in index] if self.sources else [])


class Task(abc.ABC):
    """Data format, loss, metric and model inputs of one kind of vision problem."""

    name: str
    metric_name: str
    default_arch: str
    files_per_line: int = 1  # how many leading fields of a list line name files (1 image, or image + label)

    def read_classes(self, root: Path) -> list[str]:
        """Class names of the dataset at `root`: `labels.txt`, one per line, in every PaddleX format."""
        return listfile.read_labels(root)

    @abc.abstractmethod
    def load_split(self, root: Path, split: str, input_size: tuple[int, int], classes: list[str]) -> Split:
        """Read and validate one split; errors name the list file and line."""

    @abc.abstractmethod
    def write_sample(self, out: Path, seed: int = 0) -> None:
        """Write a small real dataset in this task's format to `out`."""

    @abc.abstractmethod
    def feeds(self, split: Split, index: np.ndarray) -> list[np.ndarray]:
        """Model inputs for the samples at `index`, in the exported model's input order."""

    @abc.abstractmethod
    def loss(self, outputs: Any, batch: Split) -> Any:
        """Training loss (a paddle scalar) for a batch."""

    @abc.abstractmethod
    def score(self, outputs: list[np.ndarray], split: Split) -> dict[str, Any]:
        """Metrics over a whole split from per-batch outputs; `metric_name` is the primary one."""

    @abc.abstractmethod
    def strata(self, split: Split) -> np.ndarray:
        """One class key per sample, for class-balanced subsets (slimpipe.data.subset)."""

    def augment(self, batch: Split, rng: np.random.Generator) -> Split:
        """Training-time augmentation of a batch (images and targets together); none by default."""
        return batch

    def input_shapes(self, input_size: tuple[int, int] | list[int]) -> dict[str, list[int]]:
        """The exported model's inputs, by name in feed order, with their shapes less the batch axis."""
        return {"image": [3, *input_size]}
