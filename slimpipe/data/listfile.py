"""PaddleX list files (`labels.txt`, `train_list.txt`, `val_list.txt`) with errors that name file and line."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
