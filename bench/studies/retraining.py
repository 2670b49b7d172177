"""Retraining study (issue 15): does a longer retraining close the gap between a latency-targeted pruned model
and its unpruned control? For each epoch count, the unpruned model and the pruned model's ratios (re-applied to
the unpruned weights, as prune-train does) are retrained with the same settings (bench.pruning's
retrained_unpruned and retrained_pruned), and their best val metrics compared.

    PYTHONPATH=. .venv/bin/python bench/studies/retraining.py BASE PRUNED DATASET 12 30 60

Measured by hand on 2026-12-07 (prune-train at 30 epochs, these functions otherwise; before this script took
its final form), on a detector trained as the bench's latency_detection_backbone trains it (YOLOv3-MobileNetV1
at scale 0.25, backbone prunable, 80 epochs, val mAP 0.7569), pruned to --target-speedup 2 (2.01x measured,
--max-layer-loss 0.5; 27 layers: the neck's stride-32 and stride-8 blocks and backbone blocks 11-12 at
0.8-0.9, the neck's stride-16 block, where the sample's objects are found, at 0.3-0.6, seven backbone layers
at 0.1-0.2; 4.05x fewer FLOPs, 7.9x fewer parameters). Its drop against the control narrowed with the
retraining (val mAP, control -> pruned): 30 epochs 0.9280 -> 0.8607 (-6.73 points), 60 epochs 0.9168 ->
0.8911 (-2.56); the bench's own rows of 13:08 that day: -8.10 at 12 epochs, -4.44 at 60. The control itself
gains, since the 80-epoch base is far from converged; 60 val images move a best-epoch mAP by a point or two.
Applying the same ratios in three steps of 10 epochs each (prune, retrain, prune more; a throwaway script)
gave 0.8510 at 30 epochs, no better than at once. That bench run's eval_metric_loss 0.05 model (about 2x as
well: 2.03x by the benchmark stage), retrained 60 epochs by retrained_pruned: 0.9133 against the control's
0.9168 (-0.35 points).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.pruning import retrained_pruned, retrained_unpruned


def parser() -> argparse.ArgumentParser:
    from slimpipe.cli.options import COUNT

    cmd = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cmd.add_argument("base", type=Path, help="the unpruned model folder")
    cmd.add_argument("pruned", type=Path, help="a model folder pruned from BASE, whose ratios are retrained")
    cmd.add_argument("dataset", type=Path, help="the dataset both were trained on")
    cmd.add_argument("epochs", type=COUNT, nargs="+", help="retraining epoch counts, each at least 1")
    return cmd


def main(argv: list[str]) -> None:
    from slimpipe import modeldir
    from slimpipe.errors import SlimpipeError

    args = parser().parse_args(argv)
    try:
        batch = modeldir.read_info(args.pruned).training["batch_size"]
        rows = []
        for epochs in args.epochs:
            kwargs = {"epochs": epochs, "batch_size": batch}
            name, _, control = retrained_unpruned(args.base, args.dataset, kwargs)
            metric = retrained_pruned(args.base, args.pruned, args.dataset, kwargs)[2]
            rows.append(f"| {epochs} | {control:.4f} | {metric:.4f} | {100 * (metric - control):+.2f} |")
            print("\n".join([f"| retraining epochs | control {name} | pruned {name} | points |",
                             "| --- | --- | --- | --- |", *rows]), flush=True)
    except SlimpipeError as exc:
        print(f"retraining: error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
