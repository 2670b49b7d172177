"""Random whole pruning plans of a demo model timed side by side with the unpruned one (issue 15), the held-out
set for fit.py:

    PYTHONPATH=. .venv/bin/python bench/studies/plans.py MODEL DATASET OUT.json 40 [SEED]
"""
import json, random, statistics, sys, time
from pathlib import Path
import numpy as np
from slimpipe import modeldir
from slimpipe.inference import PredictorSettings
from slimpipe.pruning.channels import ChannelPruner, model_stats
from slimpipe.pruning.timing import Reshaper, alternate, predictor_for
from slimpipe.stages.common import load_split_for
from slimpipe.stages.latency_table import timed_feeds
from slimpipe.tasks import get_task

model, data, out, n = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
net, info = modeldir.load(model)
task = get_task(info.task)
feeds = timed_feeds(task, load_split_for(info, data, "val"), 1)
settings = PredictorSettings(device="cpu", mkldnn=False, threads=1)
pruner = ChannelPruner(net, info.input_shape())
layers = pruner.verified_layers(info.input_shape())
reshaper = Reshaper(net, task.input_shapes(info.input_size))
base = predictor_for(reshaper.program, reshaper.params, settings)
base_flops = model_stats(net, info.input_shape())["flops"]
rng = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 0)
RATIOS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
def ok(layer, r):
    c = pruner.channels[layer]; return 0 < round(c * r) < c
plans = []
for r in (0.25, 0.5, 0.75, 0.9):
    plans.append(("uniform", {l: r for l in layers if ok(l, r)}))
while len(plans) < n:
    s = rng.uniform(0.1, 0.9); p = rng.uniform(0.3, 1.0)
    plan = {}
    for l in layers:
        if rng.random() < p:
            r = min(RATIOS, key=lambda x: abs(x - rng.gauss(s, 0.2)))
            if ok(l, r): plan[l] = r
    if plan: plans.append(("random", plan))
rows = []
for i, (kind, plan) in enumerate(plans):
    t0 = time.perf_counter()
    with pruner.pruned(plan):
        prog = reshaper.variant(net)
        flops = model_stats(net, info.input_shape())["flops"]
    cand = predictor_for(*prog, settings)
    b, c = alternate([base, cand], feeds, 40, 1)
    diffs = [(x - y) / x for x, y in zip(b.samples, c.samples)]
    rows.append({"kind": kind, "plan": plan, "flops_removed": (base_flops - flops) / base_flops,
                 "base_ms": b.median_ms, "pruned_ms": c.median_ms, "saved_frac": statistics.median(diffs),
                 "speedup": b.median_ms / c.median_ms})
    print(i, kind, len(plan), f"flops -{rows[-1]['flops_removed']:.2f} speedup {rows[-1]['speedup']:.2f} "
          f"saved {rows[-1]['saved_frac']:.3f} ({time.perf_counter()-t0:.1f}s)", flush=True)
    out.write_text(json.dumps({"base_flops": base_flops, "rows": rows}, indent=1))
