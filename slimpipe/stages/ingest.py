"""Stage 0: bring a dataset (a local folder or an object-store prefix) into the pipeline and check its
list files before any training time is spent."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

from slimpipe import atomic, defaults, storage
from slimpipe.data import listfile
from slimpipe.errors import SlimpipeError, fail
from slimpipe.progress import log
from slimpipe.stages.common import dataset_dir
from slimpipe.tasks import get_task


def check_dataset(root: Path, task: str) -> dict[str, Any]:
    """Every file the list files name exists inside the folder; returns counts."""
    task_ = get_task(task)
    classes = task_.read_classes(root)
    counts = {}
    for split in listfile.SPLIT_FILES:
        entries = listfile.read_list(root, split, n_fields=2)
        for entry in entries:
            for rel in entry.fields[: task_.files_per_line]:
                listfile.resolve(root, entry, rel)
        counts[split] = len(entries)
    return {"classes": len(classes), "train_images": counts["train"], "val_images": counts["val"]}


def contained_source(root: Path) -> Path:
    """A local dataset folder that can be copied without reading anything outside it: a symbolic link in
    it must lead to a file inside it (a link to a folder could loop, one leading out would copy outside
    content into the dataset); refused naming the link otherwise, before anything is copied."""
    base = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if not path.is_symlink():
                continue
            try:
                target = path.resolve()
            except (OSError, RuntimeError) as exc:  # a loop of links
                raise fail(f"{path}: cannot resolve this symbolic link ({exc.__class__.__name__})") from None
            if base not in target.parents:
                raise fail(f"{path}: a symbolic link leading outside the dataset folder {root}; ingest copies "
                           f"only what lies inside it")
            if not target.is_file():
                raise fail(f"{path}: a symbolic link to a folder or to nothing; ingest follows links to files "
                           f"inside the dataset only")
    return root


def data_version(root: Path) -> dict[str, Any]:
    """Files, bytes and a content digest of a folder: the data version a run trained on."""
    digest, total, files = hashlib.sha256(), 0, storage.files_under(root)
    for path in files:
        data = path.read_bytes()
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + hashlib.sha256(data).digest())
        total += len(data)
    return {"files": len(files), "bytes": total, "data_version": digest.hexdigest()[:16]}


def ingest(source: str, out: str | Path, task: str = defaults.TASK, overwrite: bool = False) -> dict[str, Any]:
    """Copy or download the dataset at `source` to `out`, then validate it; nothing is left at `out`
    when the dataset is bad."""
    atomic.claim(out, "ingest", {"dataset": source}, overwrite)
    get_task(task)  # an unknown task is refused before anything is fetched
    remote = storage.parse_uri(source) if storage.is_remote(source) else None
    store = storage.ObjectStore.from_env() if remote else None
    local = None if remote else contained_source(dataset_dir(source))
    with atomic.output_dir(out, "ingest") as tmp:
        if remote:
            storage.download_prefix(store, remote, tmp / "data")
        else:
            shutil.copytree(local, tmp / "data")
        root = tmp / "data"
        try:
            summary = check_dataset(root, task)
        except SlimpipeError as exc:  # name the source, not the scratch copy
            raise fail(str(exc).replace(str(root), source.rstrip("/"))) from None
        for item in root.iterdir():
            item.rename(tmp / item.name)
        root.rmdir()
        summary |= data_version(tmp)
    log("ingest", f"{source}: {summary['files']} files ({summary['bytes'] / 1e6:.1f} MB), data version "
                  f"{summary['data_version']}, {summary['train_images']} train / {summary['val_images']} val")
    return summary | {"source": source}
