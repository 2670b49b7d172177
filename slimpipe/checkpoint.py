"""A checkpoint of a file kept in object storage (or another path), so a retried or preempted pod
resumes instead of starting over. Uploads are throttled; the last one is forced."""
from __future__ import annotations

import os
import time
from pathlib import Path

from slimpipe import atomic, storage
from slimpipe.progress import log


class Checkpoint:
    """`restore(local)` before the work, `save(local)` as it goes, `save(local, force=True)` at the end."""

    def __init__(self, uri: str, every_s: float | None = None):
        """`every_s`: least seconds between uploads (default SLIMPIPE_CHECKPOINT_EVERY_S, or 10)."""
        if every_s is None:
            every_s = float(os.environ.get("SLIMPIPE_CHECKPOINT_EVERY_S", "10"))
        self.uri, self.every_s, self._last = uri, every_s, 0.0
        if storage.is_remote(uri):
            self.loc = storage.parse_uri(uri)
            self.store = storage.ObjectStore.from_env()
        else:
            self.loc, self.store = None, None

    def restore(self, local: Path) -> bool:
        """Copy the checkpoint to `local` when there is one and `local` does not exist yet."""
        if local.exists():
            return False
        if self.store is not None:
            if not self.store.exists(self.loc.bucket, self.loc.key()):
                return False
            atomic.write_bytes(local, self.store.get_bytes(self.loc.bucket, self.loc.key()))
        elif Path(self.uri).is_file():
            atomic.write_bytes(local, Path(self.uri).read_bytes())
        else:
            return False
        log("checkpoint", f"resuming from {self.uri}")
        return True

    def save(self, local: Path, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        data = local.read_bytes()
        if self.store is not None:
            self.store.put_bytes(self.loc.bucket, self.loc.key(), data, "application/json")
        else:
            atomic.write_bytes(self.uri, data)
