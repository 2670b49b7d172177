"""Issue 8's sharding: one `slimpipe sensitivity` shard against two run at once, on the classification demo's
model, every run its own process (start-up included alike), and the merged shards against the whole analysis."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.common import classification_inputs, table, val_images

NAME = "shards"
DEPENDS = ("classification",)  # the demo's trained model and sample


def run_shards(model: Path, data: Path, out: Path, count: int, threads: int) -> float:
    """Wall time of `count` `slimpipe sensitivity --shard i/count` processes run at once."""
    cmd = [sys.executable, "-m", "slimpipe", "sensitivity", "--model", str(model), "--dataset", str(data),
           "--threads", str(threads)]
    start = time.perf_counter()
    procs = [subprocess.Popen(cmd + ["--shard", f"{i}/{count}", "--out", str(out / f"{count}-{threads}-{i}.json")],
                              stderr=subprocess.DEVNULL) for i in range(count)]
    if any(p.wait() for p in procs):
        raise RuntimeError("a shard failed")
    return time.perf_counter() - start


def run(work: Path) -> list[str]:
    from slimpipe.pruning import sensitivity as sens
    from slimpipe.stages.sensitivity import merge_sensitivities

    model, data, out = classification_inputs(work, NAME)
    one_2t = run_shards(model, data, out, 1, threads=2)
    one_1t = run_shards(model, data, out, 1, threads=1)
    two = run_shards(model, data, out, 2, threads=1)
    merged = merge_sensitivities([out / "2-1-0.json", out / "2-1-1.json"], out / "merged.json")
    whole = sens.read(out / "1-1-0.json")
    worst = max(abs(merged["sensitivities"][k][r] - v) for k, d in whole["sensitivities"].items() for r, v in d.items())
    cmd = ("python -m bench.run --only shards (slimpipe sensitivity --shard i/n processes; classification demo "
           f"model, {val_images(model, data)} val images, ratios 0.1..0.9)")
    rows = [
        ("One shard, 2 threads (both cores in one process)", f"{one_2t:.0f} s", "-", None, cmd),
        ("One shard, 1 thread (the per-shard setting)", f"{one_1t:.0f} s", "-", None, cmd),
        ("One shard: speed-up from its second thread (s)", f"{one_1t / one_2t:.2f}x", "-", None, cmd),
        ("Two shards at once, 1 thread each", f"{two:.0f} s", "-", None, cmd),
        ("Two shards vs one shard, same per-shard setting (1 thread each), same run", f"{one_1t / two:.2f}x",
         ">= 1.6x", one_1t / two >= 1.6, cmd),
        ("Two shards vs one shard using both cores, same run", f"{one_2t / two:.2f}x",
         f"at most 2/s = {2 * one_2t / one_1t:.2f}x on 2 cores", None, cmd),
        ("Merged shards vs unsharded, largest loss difference", f"{worst:.2e}", "<= 1e-6", worst <= 1e-6, cmd),
    ]
    return ["## Sensitivity analysis: two shards against one (issue 8)", "", *table(rows), ""]
