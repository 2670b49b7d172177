"""PaddleX list files (`labels.txt`, `train_list.txt`, `val_list.txt`) with errors that name file and line."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from slimpipe.errors import fail

SPLIT_FILES = {"train": "train_list.txt", "val": "val_list.txt"}


@dataclass(frozen=True)
class ListEntry:
    """One line of a list file: the fields, and where it came from for error messages."""

    fields: tuple[str, ...]
    file: Path
    line: int

    def where(self) -> str:
        return f"{self.file}:{self.line}"


def read_labels(root: Path) -> list[str]:
    """Class names, one per line; blank lines are not allowed in the middle."""
    path = root / "labels.txt"
    if not path.is_file():
        raise fail(f"{path}: labels file not found (dataset folder {root})")
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise fail(f"{path}: no class names")
    for i, name in enumerate(names, start=1):
        if not name:
            raise fail(f"{path}:{i}: empty class name")
    if len(set(names)) != len(names):
        raise fail(f"{path}: duplicate class names")
    return names


def read_list(root: Path, split: str, n_fields: int) -> list[ListEntry]:
    """Entries of a split's list file, each with exactly `n_fields` whitespace-separated fields."""
    if split not in SPLIT_FILES:
        raise fail(f"unknown split {split!r}; expected one of {sorted(SPLIT_FILES)}")
    path = root / SPLIT_FILES[split]
    if not path.is_file():
        raise fail(f"{path}: list file not found (dataset folder {root})")
    entries = []
    for i, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        fields = tuple(line.split())
        if len(fields) != n_fields:
            raise fail(f"{path}:{i}: expected {n_fields} fields, got {len(fields)}: {line!r}")
        entries.append(ListEntry(fields, path, i))
    if not entries:
        raise fail(f"{path}: the {split} split is empty")
    return entries


def resolve(root: Path, entry: ListEntry, rel: str) -> Path:
    """A path named in a list file, which must exist inside the dataset folder."""
    path = (root / rel).resolve()
    if root.resolve() not in path.parents:
        raise fail(f"{entry.where()}: path {rel!r} points outside the dataset folder")
    if not path.is_file():
        raise fail(f"{entry.where()}: file not found: {rel}")
    return path


@dataclass(frozen=True)
class PairedEntry:
    """A list line naming an image and its label file (segmentation PNG, detection XML), both checked."""

    entry: ListEntry
    image: Path
    label: Path


def read_pairs(root: Path, split: str) -> list[PairedEntry]:
    """Entries of `image label` list lines, with both files resolved inside the dataset folder."""
    return [PairedEntry(e, resolve(root, e, e.fields[0]), resolve(root, e, e.fields[1]))
            for e in read_list(root, split, n_fields=2)]


def write_pairs(out: Path, classes: tuple[str, ...], image_name: str, label_name: str, n_train: int, n_val: int,
                write_one: Callable[[int, Path, Path], None]) -> None:
    """A generated dataset of image + label pairs: `write_one(i, image_path, label_path)` writes pair i;
    names are patterns such as `images/{:04d}.jpg`. Written aside, then moved into place."""
    from slimpipe import atomic

    with atomic.output_dir(out) as tmp:
        lines = []
        for i in range(n_train + n_val):
            image, label = image_name.format(i), label_name.format(i)
            for rel in (image, label):
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            write_one(i, tmp / image, tmp / label)
            lines.append(f"{image} {label}")
        (tmp / "labels.txt").write_text("".join(f"{c}\n" for c in classes))
        (tmp / "train_list.txt").write_text("\n".join(lines[:n_train]) + "\n")
        (tmp / "val_list.txt").write_text("\n".join(lines[n_train:]) + "\n")
