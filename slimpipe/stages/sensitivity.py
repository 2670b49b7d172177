"""Stage 2: per-layer sensitivity of the trained model on the validation split."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from slimpipe import atomic, defaults, modeldir
from slimpipe.checkpoint import Checkpoint
from slimpipe.data.subset import balanced_indices
from slimpipe.errors import fail
from slimpipe.evaluation import batches, evaluate
from slimpipe.progress import Progress, log
from slimpipe.pruning import sensitivity as sens
from slimpipe.pruning.channels import ChannelPruner
from slimpipe.pruning.masked_eval import MaskedEvaluator
from slimpipe.pruning.prefix_reuse import PrefixReuse
from slimpipe.stages.common import load_split_for
from slimpipe.stages.sensitivity_workers import ProcessPool, Setup
from slimpipe.tasks import get_task

PROBE_IMAGES = 8  # val images on which the masked evaluator proves its way of writing masked values


def sensitivity(model: str | Path, dataset: str | Path, out: str | Path, criterion: str = defaults.CRITERION,
                ratios: Sequence[float] = sens.DEFAULT_RATIOS, threads: int = defaults.SENSITIVITY_THREADS,
                workers: int = defaults.SENSITIVITY_WORKERS, checkpoint: str | None = None,
                shard: tuple[int, int] | None = None, stop_loss: float | None = None, subset: int | None = None,
                seed: int = 0, reuse_prefix: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Measure every prunable layer (or shard (i, n)'s share of them) at every ratio; resumes from `out` if
    it holds a partial run, or from `checkpoint` (an object-store URI or a path) where `out` does not exist
    yet. `stop_loss` stops a layer early; `subset` measures on that many val images (seeded, balanced);
    `workers` processes evaluate at once, sharing `threads` (see sensitivity_workers.py); `reuse_prefix`:
    run only the network behind the masked layers where proven to give the same numbers (prefix_reuse.py)."""
    atomic.claim(out, "sensitivity", {"model": model, "dataset": dataset, "checkpoint": checkpoint}, overwrite,
                 folder=False, ours=atomic.json_tagged(sens.FORMAT))
    check_shard(shard)
    if stop_loss is not None and stop_loss <= 0:
        raise fail(f"stop loss {stop_loss}: must be > 0")
    if workers < 1:
        raise fail(f"workers {workers}: must be at least 1")
    if checkpoint and shard:
        checkpoint = shard_checkpoint(checkpoint, shard)
    keeper = Checkpoint(checkpoint) if checkpoint else None
    net, info = modeldir.load(model)
    task = get_task(info.task)
    val = load_split_for(info, dataset, "val")
    if subset and subset > len(val):
        raise fail(f"--subset {subset}: the val split of {dataset} has only {len(val)} images")
    if keeper:  # only once the inputs are known good: restoring writes `out`
        keeper.restore(Path(out))
    val = _subset(val, task, subset, seed)
    pruner = ChannelPruner(net, info.input_shape(), criterion)
    every = pruner.verified_layers(info.input_shape())
    layers = every[shard[0]::shard[1]] if shard else every
    threads = max(1, threads // workers)  # each process's share
    evaluator = _evaluator(net, task, info, val, threads)
    with evaluator.predictor() as predictor:
        baseline = float(evaluate(predictor, task, val)[task.metric_name])
    log("sensitivity", f"baseline {task.metric_name} {baseline:.4f} on {len(val)} val images "
                       f"({len(layers)} prunable layers{_shard_text(shard, len(every))}, "
                       f"criterion {criterion}{_workers_text(workers, threads)})")
    header = {"task": info.task, "arch": info.arch, "fingerprint": pruner.fingerprint(),
              "metric": task.metric_name, "criterion": criterion,
              "layers": {layer: pruner.channels[layer] for layer in layers},
              "all_layers": {layer: pruner.channels[layer] for layer in every},
              "shard": list(shard) if shard else None, "stop_loss": stop_loss,
              "in_place_evaluation": evaluator.in_place, "folded_evaluation": evaluator.folded,
              "subset": {"images": len(val), "seed": seed} if subset else None}
    reuse = _reuse(evaluator, task, val, -(-len(ratios) // workers)) if reuse_prefix else None
    evaluate_pruned = _evaluate_pruned(pruner, evaluator, reuse, task, val)
    store = SensitivityFile(Path(out), keeper)
    if workers == 1:
        data = sens.compute(store, header, layers, list(ratios), baseline, evaluate_pruned)
    else:
        setup = Setup(str(model), str(dataset), criterion, threads, subset, seed, -(-len(ratios) // workers),
                      reuse_prefix)
        with ProcessPool(workers, evaluate_pruned, setup, worker_evaluator) as pool:
            data = sens.compute(store, header, layers, list(ratios), baseline, pool)
    if reuse and reuse.counts.back_only + reuse.counts.whole:
        log("sensitivity", f"this process: {reuse.counts.text()}")
    return data


def _subset(val, task, subset: int | None, seed: int):
    return val.subset(balanced_indices(task.strata(val), subset, seed)) if subset else val


def _probe(task, val) -> list[np.ndarray]:
    return task.feeds(val, np.arange(min(PROBE_IMAGES, len(val))))


def _evaluator(net, task, info, val, threads: int) -> MaskedEvaluator:
    return MaskedEvaluator(net, task.input_shapes(info.input_size), _probe(task, val), threads=threads, fold=True)


def _reuse(evaluator: MaskedEvaluator, task, val, per_layer: int) -> PrefixReuse:
    """The front reuse over `val`'s batches; `per_layer`: evaluations this process expects per layer."""
    return PrefixReuse(evaluator, lambda: batches(task, val), _probe(task, val), per_layer)


def _evaluate_pruned(pruner: ChannelPruner, evaluator: MaskedEvaluator, reuse: PrefixReuse | None, task,
                     val) -> Callable[[str, float], float]:
    def evaluate_pruned(layer: str, ratio: float) -> float:
        with pruner.masked(layer, ratio) as changed:
            if reuse is not None:
                return float(task.score(reuse.outputs(changed), val)[task.metric_name])
            with evaluator.predictor(changed) as predictor:
                return float(evaluate(predictor, task, val)[task.metric_name])

    return evaluate_pruned


def worker_evaluator(setup: Setup) -> Callable[[str, float], float]:
    """A worker process's evaluate function, built as the stage builds its own (inputs already checked)."""
    net, info = modeldir.load(setup.model)
    task = get_task(info.task)
    val = _subset(load_split_for(info, setup.dataset, "val"), task, setup.subset, setup.seed)
    pruner = ChannelPruner(net, info.input_shape(), setup.criterion)
    evaluator = _evaluator(net, task, info, val, setup.threads)
    reuse = _reuse(evaluator, task, val, setup.per_layer) if setup.reuse_prefix else None
    return _evaluate_pruned(pruner, evaluator, reuse, task, val)


def _workers_text(workers: int, threads: int) -> str:
    return f", {workers} worker processes x {threads} thread(s)" if workers > 1 else f", {threads} thread(s)"


class SensitivityFile:
    """The analysis as a JSON file, written atomically after every evaluation so that a killed run resumes,
    and copied to `keeper` (throttled; forced at the end) when there is one; shows a progress line per
    (layer, ratio). Implements slimpipe.pruning.sensitivity.SensitivityStore."""

    def __init__(self, path: Path, keeper: Checkpoint | None = None):
        self.path, self.keeper, self.where = path, keeper, str(path)
        self.progress: Progress | None = None

    def load(self) -> dict[str, Any] | None:
        return sens.read(self.path) if self.path.exists() else None

    def start(self, data: dict[str, Any], todo: int) -> None:
        atomic.write_json(self.path, data)
        self.progress = Progress("sensitivity", todo)

    def record(self, data: dict[str, Any], layer: str, ratio: float, loss: float, capped: bool) -> None:
        atomic.write_json(self.path, data)
        if capped:
            self.progress.update(extra=f"{layer} @ {ratio:.2f}: skipped (loss >= {loss} at a smaller ratio)")
            return
        if self.keeper:
            self.keeper.save(self.path)
        self.progress.update(extra=f"{layer} @ {ratio:.2f}: loss {loss:+.4f}")

    def finish(self, data: dict[str, Any]) -> None:
        atomic.write_json(self.path, data)
        if self.keeper:
            self.keeper.save(self.path, force=True)


def _shard_text(shard: tuple[int, int] | None, total: int) -> str:
    return f" of {total}, shard {shard[0]}/{shard[1]}" if shard else ""


def check_shard(shard: tuple[int, int] | None) -> None:
    if shard is not None and not (shard[1] >= 1 and 0 <= shard[0] < shard[1]):
        raise fail(f"shard {shard[0]}/{shard[1]}: expected i/n with 0 <= i < n")


def shard_names(count: int) -> list[str]:
    """["0/n", ..., "n-1/n"]: the shards of an analysis split `count` ways."""
    if count < 1:
        raise fail(f"shard count {count}: must be at least 1")
    return [f"{i}/{count}" for i in range(count)]


def shard_checkpoint(checkpoint: str, shard: tuple[int, int]) -> str:
    """Each shard checkpoints to its own object: `x.json` -> `x.shard-0-of-2.json`."""
    stem, dot, ext = checkpoint.rpartition(".")
    suffix = f"shard-{shard[0]}-of-{shard[1]}"
    return f"{stem}.{suffix}.{ext}" if dot and "/" not in ext else f"{checkpoint}.{suffix}"


def parse_shard(text: str) -> tuple[int, int]:
    """`1/4` -> (1, 4)."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise fail(f"shard {text!r}: expected i/n, e.g. 0/2") from None
    check_shard((i, n))
    return i, n


def merge_sensitivities(shards: Sequence[str | Path], out: str | Path, overwrite: bool = False) -> dict[str, Any]:
    """Join complete shard files into the unsharded analysis, written atomically to `out`."""
    if not shards:
        raise fail("no shard files given")
    atomic.claim(out, "merge-sensitivities", {"shard file": list(shards)}, overwrite, folder=False,
                 ours=atomic.json_tagged(sens.FORMAT))
    parts = [(Path(p), sens.read(p)) for p in shards]
    merged = sens.merge(parts)
    atomic.write_json(out, merged)
    log("merge", f"{len(parts)} shards -> {out}: {len(merged['sensitivities'])} layers, "
                 f"{merged['evaluations']} evaluations, {merged['seconds_per_evaluation']:.3f} s each")
    return merged
