"""Stage 0: bring a dataset into the pipeline (a local folder now; object stores through slimpipe.storage)
and check its list files before any training time is spent."""
from __future__ import annotations

import hashlib

from pathlib import Path
from typing import Any

from slimpipe import atomic
from slimpipe.data import listfile
from slimpipe.progress import Progress, log
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


def digest_and_copy(src: Path, dst: Path) -> dict[str, Any]:
    """Copy a folder, returning the number of files, bytes and a content digest (the data version)."""
    files = sorted(p for p in src.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    total = 0
    progress = Progress("ingest", len(files), every=5.0)
    for path in files:
        rel = path.relative_to(src).as_posix()
        data = path.read_bytes()
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        total += len(data)
        progress.update()
    return {"files": len(files), "bytes": total, "data_version": digest.hexdigest()[:16]}


def ingest(source: str, out: str | Path, task: str = "classification") -> dict[str, Any]:
    """Validate the dataset at `source` and copy it to `out`; returns a summary with its data version."""
    root = dataset_dir(source)
    summary = check_dataset(root, task)
    with atomic.output_dir(out) as tmp:
        summary |= digest_and_copy(root, tmp)
    log("ingest", f"{summary['files']} files ({summary['bytes'] / 1e6:.1f} MB), data version "
                  f"{summary['data_version']}, {summary['train_images']} train / {summary['val_images']} val")
    return summary | {"source": source}



