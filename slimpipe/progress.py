"""Progress lines for long work: counts, elapsed time and an estimate, readable in pod logs too.

Stages print with `log` and `Progress`; the algorithm layer (slimpipe.pruning...) does not print: it logs to
its module logger (`logging.getLogger(__name__)`), and importing this module (as every stage does) renders
the `slimpipe` loggers' INFO records as the same `[stage] message` lines on stderr (see `show_library_logs`).
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TextIO


class Progress:
    """Prints `[label] 12/40 (30%) 4.1s elapsed, ~9.6s left  extra` at most every `every` seconds."""

    def __init__(self, label: str, total: int, every: float = 2.0, stream: TextIO | None = None):
        self.label, self.total, self.every = label, max(int(total), 0), every
        self.stream = stream or sys.stderr
        self.done = 0
        self.start = time.perf_counter()
        self._last = 0.0
        self._lock = threading.Lock()

    def update(self, n: int = 1, extra: str = "") -> None:
        """Count `n` more done; print when `every` seconds passed since the last line, and at the end."""
        with self._lock:
            self.done += n
            now = time.perf_counter() - self.start
            if now - self._last >= self.every or self.done >= self.total:
                self._last = now
                self._print(now, extra)

    def _print(self, elapsed: float, extra: str) -> None:
        pct = 100.0 * self.done / self.total if self.total else 100.0
        left = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        bar_len = 20
        filled = int(bar_len * pct / 100)
        bar = "#" * filled + "." * (bar_len - filled)
        line = (f"[{self.label}] [{bar}] {self.done}/{self.total} ({pct:.0f}%) "
                f"{elapsed:.1f}s elapsed, ~{left:.1f}s left")
        print(f"{line}  {extra}".rstrip(), file=self.stream, flush=True)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def log(stage: str, message: str) -> None:
    """One status line on stderr, prefixed with the stage name."""
    print(f"[{stage}] {message}", file=sys.stderr, flush=True)


class StageLines(logging.Handler):
    """Renders a log record as `log` does: `[stage] message` on the current stderr, where the stage is the
    record's `stage` (`logger.info(..., extra={"stage": "sweep"})`) or else the last part of its logger's name
    (`slimpipe.pruning.sensitivity` -> `sensitivity`)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            log(getattr(record, "stage", record.name.rpartition(".")[2]), record.getMessage())
        except Exception:  # a handler must not raise (logging's rule); report it the logging way
            self.handleError(record)


def show_library_logs() -> None:
    """Show the `slimpipe` loggers' INFO records as stage lines on stderr, once, unless the logger already
    has a handler (an embedding application's, say). They do not also reach the root logger's handlers."""
    library = logging.getLogger("slimpipe")
    if library.handlers:
        return
    library.addHandler(StageLines())
    if library.level == logging.NOTSET:
        library.setLevel(logging.INFO)
    library.propagate = False


show_library_logs()
