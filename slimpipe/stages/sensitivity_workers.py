"""Worker processes for the sensitivity stage: `--workers N` evaluates N (layer, ratio) pairs at once.

On a CPU, N processes of one thread each evaluate faster than one process of N threads (the predictor's
threads share little work on a small model: bench/results.md, "two shards against one"). The stage's own
process is one of the N: it evaluates in place (`InProcess`) between collecting the others' results, so
N workers start N - 1 processes. Each process loads the model and the val split itself and builds its own
masked evaluator, proven on the model as the stage's is (slimpipe/pruning/masked_eval.py). Processes are
spawned (never forked: Paddle's threads do not survive a fork); they exit when their parent does.
"""
from __future__ import annotations

import multiprocessing
import os
import queue
import sys
from dataclasses import dataclass
from typing import Any, Callable

from slimpipe.errors import fail

POLL_S = 1.0  # how often a blocked worker or parent checks that the other side is still there


@dataclass(frozen=True)
class Setup:
    """What a worker needs to build the stage's evaluator for itself (all picklable)."""

    model: str
    dataset: str
    criterion: str
    threads: int
    subset: int | None
    seed: int
    per_layer: int  # evaluations each process expects per layer (the ratios shared among the workers)
    reuse_prefix: bool = True


class ProcessPool:
    """An EvaluationPool (slimpipe.pruning.sensitivity) of `size`: the caller's `evaluate` plus `size - 1`
    spawned processes built from `setup` by `build` (a module-level function returning an evaluate
    function). Use as a context manager: leaving it stops the processes."""

    def __init__(self, size: int, evaluate: Callable[[str, float], float], setup: Setup,
                 build: Callable[[Setup], Callable[[str, float], float]]):
        self.size, self.evaluate = size, evaluate
        context = multiprocessing.get_context("spawn")
        self.tasks, self.results = context.Queue(), context.Queue()
        self.processes = [context.Process(target=_serve, args=(build, setup, self.tasks, self.results, os.getpid()),
                                          name=f"sensitivity-worker-{i + 1}", daemon=True)
                          for i in range(size - 1)]
        self.mine: list[tuple[str, float]] = []  # submitted pairs this process evaluates itself
        self.theirs = 0  # submitted to the workers, result not yet taken

    def __enter__(self) -> "ProcessPool":
        for process in self.processes:
            process.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        for _ in self.processes:
            self.tasks.put(None)
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join()
        self.tasks.close()
        self.results.close()

    def submit(self, layer: str, ratio: float) -> None:
        if not self.mine:  # this process's slot is free
            self.mine.append((layer, ratio))
        else:
            self.tasks.put((layer, ratio))
            self.theirs += 1

    def result(self) -> tuple[str, float, float]:
        if self.theirs:
            try:
                return self._take(block=not self.mine)
            except queue.Empty:
                pass
        layer, ratio = self.mine.pop()
        return layer, ratio, self.evaluate(layer, ratio)

    def _take(self, block: bool) -> tuple[str, float, float]:
        while True:
            try:
                message = self.results.get(timeout=POLL_S) if block else self.results.get_nowait()
            except queue.Empty:
                if not block:
                    raise
                dead = [p for p in self.processes if not p.is_alive()]
                if dead:
                    raise fail(f"sensitivity worker {dead[0].name} stopped (exit code {dead[0].exitcode}); "
                               f"what was measured is kept: run again to resume") from None
                continue
            if message[0] == "error":
                raise fail(f"sensitivity worker: {message[1]}")
            self.theirs -= 1
            _, layer, ratio, metric = message
            return layer, ratio, metric


def _serve(build: Callable[[Setup], Callable[[str, float], float]], setup: Setup, tasks: Any, results: Any,
           parent: int) -> None:
    """A worker process: build the evaluator, then evaluate pairs until told to stop or the parent is gone.
    Its status lines would repeat the stage's, so they are not shown; an error goes back as a message."""
    from slimpipe.errors import SlimpipeError

    sys.stderr = open(os.devnull, "w")  # noqa: SIM115  (the process's own stderr, for its lifetime)
    try:
        evaluate = build(setup)
        while True:
            try:
                pair = tasks.get(timeout=POLL_S)
            except queue.Empty:
                if os.getppid() != parent:
                    return
                continue
            if pair is None:
                return
            results.put(("ok", *pair, evaluate(*pair)))
    except SlimpipeError as e:
        results.put(("error", str(e)))
    except Exception as e:  # noqa: BLE001  (reported by the parent, which names the stage)
        results.put(("error", f"{type(e).__name__}: {e}"))
