"""Noise study behind the latency table's method "plans" (issue 15): the same pair of predictors (unpruned,
and one layer or every layer pruned at 0.5) timed 10 times, 40 alternating rounds each, comparing statistics
(paired median ratio: 2.4-2.8% standard deviation; ratio of medians 3.1-5%).

    PYTHONPATH=. .venv/bin/python bench/studies/noise.py bench/work/demo-classification/results/model \
        bench/work/demo-classification/classification-sample
"""
import statistics, sys
import numpy as np
from slimpipe import modeldir
from slimpipe.inference import PredictorSettings
from slimpipe.pruning.channels import ChannelPruner
from slimpipe.pruning.timing import Reshaper, alternate, predictor_for
from slimpipe.stages.common import load_split_for
from slimpipe.stages.latency_table import timed_feeds
from slimpipe.tasks import get_task
model, data = sys.argv[1], sys.argv[2]
net, info = modeldir.load(model); task = get_task(info.task)
feeds = timed_feeds(task, load_split_for(info, data, "val"), 1)
settings = PredictorSettings(device="cpu", mkldnn=False, threads=1)
pruner = ChannelPruner(net, info.input_shape()); layers = pruner.verified_layers(info.input_shape())
reshaper = Reshaper(net, task.input_shapes(info.input_size))
base = predictor_for(reshaper.program, reshaper.params, settings)
for plan_name, plan in (("one layer 0.5", {layers[5]: 0.5}), ("uniform 0.5", {l: 0.5 for l in layers})):
    with pruner.pruned(plan):
        cand = predictor_for(*reshaper.variant(net), settings)
    res = {k: [] for k in ("ratio_med", "med_ratio", "ratio_min", "ratio_p10", "ratio_p25")}
    for rep in range(10):
        b, c = alternate([base, cand], feeds, 40, 1)
        B, C = np.array(b.samples), np.array(c.samples)
        res["ratio_med"].append(np.median(B) / np.median(C))
        res["med_ratio"].append(1 / np.median(C / B))
        res["ratio_min"].append(B.min() / C.min())
        res["ratio_p10"].append(np.percentile(B, 10) / np.percentile(C, 10))
        res["ratio_p25"].append(np.percentile(B, 25) / np.percentile(C, 25))
    print(plan_name, f"base median {np.median(B):.2f} min {B.min():.2f} p10 {np.percentile(B,10):.2f}")
    for k, v in res.items():
        print(f"  {k:10s} mean {np.mean(v):.3f} sd {np.std(v):.3f}  " + " ".join(f"{x:.2f}" for x in v))
