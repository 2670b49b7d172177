"""Repeats study (issue 15): the same two models timed as the latency table and prune-train's loop time them
(`timing.alternate`, 40 rounds of 1 run each, median of the paired ratios) and with more runs per alternation
(40 x 10, 8 x 50), or one untimed settling run before each timed one (what tables time with since
latency.DEFAULT_SETTLE), twice each, as saved models and as exported in memory (prune-train's way), in one
process. Alternating after every single run leaves each model's weights out of cache; the benchmark stage
and a server run warm. See README "Measured results" (the threshold plan on the detector) for what it found.

    PYTHONPATH=. .venv/bin/python bench/studies/repeats.py \
        bench/work/latency_detection_backbone/results/model \
        bench/work/latency_detection_backbone/latency/pruned-threshold \
        bench/work/latency_detection_backbone/detection-sample
"""
import sys
from pathlib import Path

from slimpipe import modeldir
from slimpipe.inference import Predictor, PredictorSettings, make_config
from slimpipe.pruning.latency import latency_ratio
from slimpipe.pruning.timing import alternate, exported_predictor
from slimpipe.stages.common import load_split_for
from slimpipe.stages.latency_table import timed_feeds
from slimpipe.tasks import get_task

SCHEDULES = ((40, 1, 0), (40, 1, 1), (40, 10, 0), (8, 50, 0))  # (rounds, timed runs, settling runs) per alternation

base, pruned, data = (Path(a) for a in sys.argv[1:4])
info = modeldir.read_info(base)
task = get_task(info.task)
feeds = timed_feeds(task, load_split_for(info, data, "val"), 1)
settings = PredictorSettings()
shapes = task.input_shapes(info.input_size)
ways = {"in memory": [exported_predictor(modeldir.load(d)[0], shapes, settings) for d in (base, pruned)],
        "saved": [Predictor(make_config(*modeldir.inference_paths(d), settings)) for d in (base, pruned)]}
for way, predictors in ways.items():
    for rounds, repeats, settle in SCHEDULES:
        for _ in range(2):
            b, p = alternate(predictors, feeds, rounds, repeats, settle=settle)
            ratio, _ = latency_ratio(b.samples, p.samples)
            print(f"{way:9s} {rounds:2d} rounds x {repeats:2d} runs after {settle} untimed: base {b.median_ms:.2f} ms, pruned "
                  f"{p.median_ms:.2f} ms, {1 / ratio:.2f}x", flush=True)
