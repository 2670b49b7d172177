"""Stage 7: publish a run's results where serving and people can find them.

Everything goes to `<dest>/<run-id>/` first; `<dest>/latest.json` (run id, metrics, keys) is written last,
and only when every object is up and the pruned model passes the quality gate. A failed, interrupted or
rejected run never moves latest.json, which scheduled retraining relies on.

Publishing never replaces anything: a run id that already exists at the destination (a folder, or any
object under `<dest>/<run-id>/`) is refused before anything is written. In a local folder the run folder is
written aside and renamed into place when complete; in a bucket an interrupted upload leaves its objects
(without `publish.json`), and that run id stays taken.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any, Iterator

from slimpipe import atomic, storage
from slimpipe.errors import fail
from slimpipe.progress import log
from slimpipe.stages.report import comparison, read_benchmark

POINTER = "latest.json"
RECORD = "publish.json"
MAX_DROP_POINTS = 1.0
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_run_id(run_id: str) -> str:
    """A run id is one plain folder name: letters, digits, `.`, `_`, `-`, starting with a letter or digit,
    at most 128 characters, no `..`, and not the pointer's name."""
    if not run_id:
        raise fail("run id is empty: expected a name such as 2024-06-01-digits")
    if "/" in run_id or "\\" in run_id:
        raise fail(f"run id {run_id!r}: a run id is one folder name, without '/' or '\\'")
    if ".." in run_id:
        raise fail(f"run id {run_id!r}: '..' is not allowed in a run id")
    if not RUN_ID.fullmatch(run_id) or run_id in (POINTER, RECORD):
        raise fail(f"run id {run_id!r}: expected 1-128 letters, digits, '.', '_' or '-', starting with a letter "
                   f"or digit (and not {POINTER!r})")
    return run_id


def run_files(model: str | Path, base_result: str | Path, pruned_result: str | Path,
              sensitivities: str | Path | None = None, plots: str | Path | None = None,
              report: str | Path | None = None) -> dict[str, Path]:
    """What a run folder holds: its name there -> the local file or folder (optional ones when given)."""
    named = {"model": model, "benchmark_base.json": base_result, "benchmark_pruned.json": pruned_result,
             "sensitivities.json": sensitivities, "visualization": plots, "report.md": report}
    return {name: Path(path) for name, path in named.items() if path is not None}


def judge(base: dict[str, Any], pruned: dict[str, Any], max_drop_points: float) -> dict[str, Any]:
    """The quality gate on two benchmark results: the metric may drop by at most `max_drop_points` points."""
    figures = comparison(base, pruned)
    passed = figures["metric_drop_points"] <= max_drop_points
    return {"passed": passed, "max_drop_points": max_drop_points, "figures": figures}


def gate(base_result: Path, pruned_result: Path, max_drop_points: float) -> dict[str, Any]:
    """The quality gate on two benchmark result files."""
    return judge(read_benchmark(base_result), read_benchmark(pruned_result), max_drop_points)


def publish(dest: str, run_id: str, files: dict[str, Path], base_result: Path, pruned_result: Path,
            max_drop_points: float = MAX_DROP_POINTS) -> dict[str, Any]:
    """Upload `files` (name in the run folder -> local file or folder) under `dest/run_id/`, then move
    the pointer if the gate passes. Returns the pointer (or the rejection). Every check (run id, inputs,
    gate, destination, run id not taken) runs before anything is written."""
    check_run_id(run_id)
    for name, path in files.items():
        if not Path(path).exists():
            raise fail(f"{path}: nothing to publish as {name}")
    verdict = gate(base_result, pruned_result, max_drop_points)
    writer = _RemoteWriter(dest) if storage.is_remote(dest) else _LocalWriter(dest)
    if writer.taken(run_id):
        raise fail(f"{writer.where(run_id)}: run id {run_id!r} already exists at the destination; publishing "
                   f"never replaces a run (choose another run id)")
    writer.check(run_id, files)
    with writer.run_folder(run_id):
        keys = [key for name, path in files.items() for key in writer.put(Path(path), run_id, name)]
        record = {"run_id": run_id, "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "location": writer.where(run_id), "objects": keys, "gate": verdict}
        writer.put_json(record, run_id, RECORD)
    if not verdict["passed"]:
        log("publish", f"REJECTED by the quality gate: metric dropped {verdict['figures']['metric_drop_points']:.2f} "
                       f"points (at most {max_drop_points}); {writer.where(POINTER)} left as it was")
        return record | {"published": False}
    writer.point(record)
    log("publish", f"{len(keys)} objects under {writer.where(run_id)}; pointer {writer.where(POINTER)} moved")
    return record | {"published": True}


class _RemoteWriter:
    def __init__(self, dest: str):
        self.loc = storage.parse_uri(dest)
        self.store = storage.ObjectStore.from_env()
        self.store.require_bucket(self.loc)

    def taken(self, run_id: str) -> bool:
        folder = storage.Location(self.loc.bucket, self.loc.key(run_id))
        return bool(self.store.list(folder)) or self.store.exists(folder.bucket, folder.key())

    def check(self, run_id: str, files: dict[str, Path]) -> None:
        """Nothing to check beyond the bucket, which the constructor required."""

    @contextlib.contextmanager
    def run_folder(self, run_id: str) -> Iterator[None]:
        yield

    def put(self, src: Path, run_id: str, name: str) -> list[str]:
        loc = storage.Location(self.loc.bucket, self.loc.key(run_id, name))
        if src.is_file():
            self.store.put_file(loc.bucket, loc.key(), src)
            return [loc.key()]
        return storage.upload_tree(self.store, src, loc)

    def put_json(self, obj: Any, run_id: str, name: str) -> None:
        self._json(obj, self.loc.key(run_id, name))

    def point(self, obj: Any) -> None:
        self._json(obj, self.loc.key(POINTER))

    def _json(self, obj: Any, key: str) -> None:
        data = (json.dumps(obj, indent=2) + "\n").encode()
        self.store.put_bytes(self.loc.bucket, key, data, "application/json")

    def where(self, name: str) -> str:
        return self.loc.uri(name)


class _LocalWriter:
    def __init__(self, dest: str):
        if not str(dest).strip():
            raise fail("publish: the destination is empty")
        self.root = Path(dest)
        if self.root.exists() and not self.root.is_dir():
            raise fail(f"{dest}: is a file; publish writes run folders and {POINTER} inside a folder")
        self.folder: Path | None = None

    def taken(self, run_id: str) -> bool:
        return os.path.lexists(self.root / run_id)

    def check(self, run_id: str, files: dict[str, Path]) -> None:
        """The output rule: the run folder is no input, lies in none, and its place is writable."""
        atomic.claim(self.root / run_id, "publish", {name: path for name, path in files.items()})

    @contextlib.contextmanager
    def run_folder(self, run_id: str) -> Iterator[None]:
        """Write the run folder aside; it takes its place only when complete, and never replaces one."""
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic.output_dir(self.root / run_id) as tmp:
            self.folder = tmp
            yield
            if self.taken(run_id):
                raise fail(f"{self.where(run_id)}: run id {run_id!r} was published by someone else meanwhile; "
                           f"nothing of this run was kept")
        self.folder = None

    def put(self, src: Path, run_id: str, name: str) -> list[str]:
        storage.copy_local(src, self.folder / name)
        return [f"{run_id}/{p.relative_to(self.folder).as_posix()}" for p in storage.files_under(self.folder / name)]

    def put_json(self, obj: Any, run_id: str, name: str) -> None:
        atomic.write_json(self.folder / name, obj)

    def point(self, obj: Any) -> None:
        atomic.write_json(self.root / POINTER, obj)

    def where(self, name: str) -> str:
        return str(self.root / name)
