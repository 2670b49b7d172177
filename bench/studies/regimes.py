"""Regime study (issue 15): the same two saved models timed three times in a row, each time by the latency
loop's statistic (200 alternating single runs, paired median ratio, and its first 40 as the loop uses) and by
the bench's side_by_side (5 rounds of 50 runs), to see whether a speed-up is a stable quantity on this host.
On 2026-11-24 the UNet demo model against its latency-targeted model measured 2.11x, 1.71x and 1.79x by the
first, 2.11x, 2.04x and 2.15x by the second, within two minutes: the unpruned model flips between about 18.7
and 16.4 ms while the pruned one moves less.

    PYTHONPATH=. .venv/bin/python bench/studies/regimes.py bench/work/demo-segmentation/results/model \
        bench/work/latency-segmentation/pruned bench/work/demo-segmentation/segmentation-sample
"""
import sys
from pathlib import Path

import numpy as np

from bench.common import side_by_side
from slimpipe import modeldir
from slimpipe.inference import Predictor, PredictorSettings, make_config
from slimpipe.pruning.latency import latency_ratio
from slimpipe.pruning.timing import alternate
from slimpipe.stages.common import load_split_for
from slimpipe.tasks import get_task

base, pruned, data = (Path(a) for a in sys.argv[1:4])
info = modeldir.read_info(base)
feed = get_task(info.task).feeds(load_split_for(info, data, "val"), np.arange(1))
predictors = [Predictor(make_config(*modeldir.inference_paths(d), PredictorSettings())) for d in (base, pruned)]
for _ in range(3):
    b, p = alternate(predictors, feed, 200, 1)
    ratio, _ = latency_ratio(b.samples, p.samples)
    first, _ = latency_ratio(b.samples[:40], p.samples[:40])
    print(f"paired median of 200: {1 / ratio:.3f}x (first 40: {1 / first:.3f}x); unpruned {b.median_ms:.2f} ms, "
          f"pruned {p.median_ms:.2f} ms")
    s = side_by_side(base, pruned, data)
    print(f"side_by_side: {s['speedup']:.3f}x by means, {s['speedup_p50']:.3f}x by medians "
          f"({s['base_ms']:.2f} -> {s['pruned_ms']:.2f} ms)")
