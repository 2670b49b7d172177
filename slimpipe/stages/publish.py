"""Stage 7: publish a run's results where serving and people can find them.

Everything goes to `<dest>/<run-id>/` first; `<dest>/latest.json` (run id, metrics, keys) is written last,
and only when every object is up and the pruned model passes the quality gate. A failed, interrupted or
rejected run never moves latest.json, which scheduled retraining relies on.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from slimpipe import atomic, storage
from slimpipe.errors import fail
from slimpipe.progress import log
from slimpipe.stages.report import comparison, read_benchmark

POINTER = "latest.json"


def judge(base: dict[str, Any], pruned: dict[str, Any], max_drop_points: float) -> dict[str, Any]:
    """The quality gate on two benchmark results: the metric may drop by at most `max_drop_points` points."""
    figures = comparison(base, pruned)
    passed = figures["metric_drop_points"] <= max_drop_points
    return {"passed": passed, "max_drop_points": max_drop_points, "figures": figures}


def gate(base_result: Path, pruned_result: Path, max_drop_points: float) -> dict[str, Any]:
    """The quality gate on two benchmark result files."""
    return judge(read_benchmark(base_result), read_benchmark(pruned_result), max_drop_points)


def publish(dest: str, run_id: str, files: dict[str, Path], base_result: Path, pruned_result: Path,
            max_drop_points: float = 1.0) -> dict[str, Any]:
    """Upload `files` (name in the run folder -> local file or folder) under `dest/run_id/`, then move
    the pointer if the gate passes. Returns the pointer (or the rejection)."""
    if not run_id or "/" in run_id:
        raise fail(f"run id {run_id!r}: expected a non-empty name without '/'")
    for name, path in files.items():
        if not Path(path).exists():
            raise fail(f"{path}: nothing to publish as {name}")
    verdict = gate(base_result, pruned_result, max_drop_points)
    writer = _RemoteWriter(dest) if storage.is_remote(dest) else _LocalWriter(dest)
    keys = [key for name, path in files.items() for key in writer.put(Path(path), f"{run_id}/{name}")]
    record = {"run_id": run_id, "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "location": writer.where(run_id), "objects": keys, "gate": verdict}
    writer.put_json(f"{run_id}/publish.json", record)
    if not verdict["passed"]:
        log("publish", f"REJECTED by the quality gate: metric dropped {verdict['figures']['metric_drop_points']:.2f} "
                       f"points (at most {max_drop_points}); {writer.where(POINTER)} left as it was")
        return record | {"published": False}
    writer.put_json(POINTER, record)
    log("publish", f"{len(keys)} objects under {writer.where(run_id)}; pointer {writer.where(POINTER)} moved")
    return record | {"published": True}


class _RemoteWriter:
    def __init__(self, dest: str):
        self.loc = storage.parse_uri(dest)
        self.store = storage.ObjectStore.from_env()
        self.store.require_bucket(self.loc)

    def put(self, src: Path, name: str) -> list[str]:
        loc = storage.Location(self.loc.bucket, self.loc.key(name))
        if src.is_file():
            self.store.put_file(loc.bucket, loc.key(), src)
            return [loc.key()]
        return storage.upload_tree(self.store, src, loc)

    def put_json(self, name: str, obj: Any) -> None:
        data = (json.dumps(obj, indent=2) + "\n").encode()
        self.store.put_bytes(self.loc.bucket, self.loc.key(name), data, "application/json")

    def where(self, name: str) -> str:
        return self.loc.uri(name)


class _LocalWriter:
    def __init__(self, dest: str):
        self.root = Path(dest)
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, src: Path, name: str) -> list[str]:
        storage.copy_local(src, self.root / name)
        return [p.relative_to(self.root).as_posix() for p in storage.files_under(self.root / name)]

    def put_json(self, name: str, obj: Any) -> None:
        atomic.write_json(self.root / name, obj)

    def where(self, name: str) -> str:
        return str(self.root / name)
