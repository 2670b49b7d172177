"""`make demo`: the whole pipeline on the bundled sample through Kubeflow Pipelines' local runner.

The pipeline's defaults are sized for this: MobileNetV2 at width 0.35 and 64x64 input, 4 epochs, the
sensitivity analysis over 9 ratios, 2 retraining epochs; a few minutes on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from slimpipe.progress import log


def main(argv: list[str] | None = None) -> None:
    from slimpipe.cli import main as cli

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="classification")
    parser.add_argument("--out", default="demo-out")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = Path(args.out).resolve()
    dataset = out / "dataset"
    if not (dataset / "labels.txt").exists():
        cli(["sample", "--task", args.task, "--out", str(dataset)])
    code = cli(["run", "--dataset", str(dataset), "--task", args.task, "--root", str(out / "runs"),
                "--out", str(out / "results")])
    log("demo", f"done in {time.perf_counter() - start:.0f}s; results under {out / 'results'}")
    raise SystemExit(code)


if __name__ == "__main__":
    main()
