"""PaddleX list files (`labels.txt`, `train_list.txt`, `val_list.txt`) with errors that name file and line.

Every file read here lies inside the dataset folder, once symbolic links are resolved: a list file, a
labels file or a path named on a list line that leads outside is refused without being read, so nothing
from outside the dataset reaches a model or a message. Text is UTF-8 (a leading byte-order mark is
dropped); other bytes are refused with the file and line."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from slimpipe.errors import fail

SPLIT_FILES = {"train": "train_list.txt", "val": "val_list.txt"}
LABELS_FILE = "labels.txt"
BOM = "\ufeff"
SHOWN_CHARS = 80  # how much of a bad line or value a message quotes
_NEWLINE = re.compile(r"\r\n|\r|\n")


def excerpt(text: str) -> str:
    """`text` quoted for a message, cut to SHOWN_CHARS."""
    return repr(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "...")


def shown(text: str) -> str:
    """`text` as is when it is short and printable, else quoted and cut (`excerpt`)."""
    return text if len(text) <= SHOWN_CHARS and text.isprintable() else excerpt(text)


@dataclass(frozen=True)
class ListEntry:
    """One line of a list file: the fields, and where it came from for error messages."""

    fields: tuple[str, ...]
    file: Path
    line: int

    def where(self) -> str:
        return f"{self.file}:{self.line}"


def inside(root: Path, resolved: Path) -> bool:
    """Whether the resolved path `resolved` lies strictly inside the folder `root` (its links resolved)."""
    return root.resolve() in resolved.parents


def dataset_file(root: Path, name: str, what: str) -> Path:
    """The dataset's own file `name` (a list or labels file), resolved; refused, unread, when it is
    missing, not a regular file, or a link leading outside the dataset folder."""
    path = root / name
    try:
        resolved = path.resolve()
        outside = not inside(root, resolved)
        found, regular = resolved.exists(), resolved.is_file()
    except (OSError, RuntimeError) as exc:
        raise fail(f"{path}: cannot resolve the {what} ({exc.__class__.__name__})") from None
    if outside:
        raise fail(f"{path}: the {what} leads outside the dataset folder {root} (a symbolic link?); "
                   "it is not read")
    if not found:
        raise fail(f"{path}: {what} not found (dataset folder {root})")
    if not regular:
        raise fail(f"{path}: the {what} is not a regular file")
    return resolved


def read_lines(path: Path, shown: Path) -> list[str]:
    """Lines of a UTF-8 text file (a leading byte-order mark dropped; any newline convention); `shown`
    is the name messages give the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise fail(f"{shown}: cannot read ({exc.strerror or exc.__class__.__name__})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = len(_NEWLINE.split(data[: exc.start].decode("utf-8")))
        raise fail(f"{shown}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                   "save the file as UTF-8") from None
    return _NEWLINE.split(text.removeprefix(BOM))


def read_labels(root: Path) -> list[str]:
    """Class names, one per line; blank lines are not allowed in the middle, nor a name twice."""
    path = root / LABELS_FILE
    names = [line.strip() for line in read_lines(dataset_file(root, LABELS_FILE, "labels file"), path)]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise fail(f"{path}: no class names")
    first: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if not name:
            raise fail(f"{path}:{i}: empty class name")
        if name in first:
            raise fail(f"{path}:{i}: class name {excerpt(name)} repeats line {first[name]}")
        first[name] = i
    return names


def read_list(root: Path, split: str, n_fields: int) -> list[ListEntry]:
    """Entries of a split's list file, each with exactly `n_fields` whitespace-separated fields."""
    if split not in SPLIT_FILES:
        raise fail(f"unknown split {split!r}; expected one of {sorted(SPLIT_FILES)}")
    path = root / SPLIT_FILES[split]
    entries = []
    for i, raw in enumerate(read_lines(dataset_file(root, SPLIT_FILES[split], "list file"), path), start=1):
        line = raw.strip()
        if not line:
            continue
        fields = tuple(line.split())
        if len(fields) != n_fields:
            raise fail(f"{path}:{i}: expected {n_fields} fields, got {len(fields)}: {excerpt(line)}")
        entries.append(ListEntry(fields, path, i))
    if not entries:
        raise fail(f"{path}: the {split} split is empty")
    return entries


def resolve(root: Path, entry: ListEntry, rel: str) -> Path:
    """A path named in a list file, which must be a regular file inside the dataset folder once links are
    resolved; returned resolved, so that what is read is what was checked."""
    try:
        path = (root / rel).resolve()
        outside = not inside(root, path)
        regular = path.is_file()
    except (OSError, RuntimeError, ValueError) as exc:
        raise fail(f"{entry.where()}: cannot resolve path {excerpt(rel)} ({exc.__class__.__name__})") from None
    if outside:
        raise fail(f"{entry.where()}: path {excerpt(rel)} points outside the dataset folder")
    if not regular:
        raise fail(f"{entry.where()}: file not found: {shown(rel)}")
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

    with atomic.output_dir(out, "sample") as tmp:
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
