"""`make demo`: the whole workflow on the bundled sample, sized to finish in minutes on 2 CPU cores."""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

from slimpipe.progress import log


@dataclass
class DemoConfig:
    """Sizes of the bundled demo: every one stays an option of the stage commands."""

    task: str = field(default="classification", metadata={"help": "task of the bundled sample"})
    arch: str = field(default="mobilenetv2", metadata={"help": "architecture"})
    arch_options: dict = field(default_factory=lambda: {"scale": 0.35}, metadata={"help": "width scale"})
    input_size: tuple[int, int] = field(default=(64, 64), metadata={"help": "model input (H, W)"})
    epochs: int = field(default=4, metadata={"help": "training epochs"})
    prune_epochs: int = field(default=2, metadata={"help": "retraining epochs after pruning"})
    eval_metric_loss: float = field(default=0.05, metadata={"help": "pruning threshold"})


def run_stages(cfg: DemoConfig, out: Path) -> str:
    """Chain the stages through files in `out` and return the report."""
    from slimpipe.stages.benchmark import benchmark
    from slimpipe.stages.prune_train import prune_train
    from slimpipe.stages.report import report
    from slimpipe.stages.sensitivity import sensitivity
    from slimpipe.stages.train import train
    from slimpipe.stages.visualize import visualize
    from slimpipe.tasks import get_task

    data = out / "dataset"
    if not (data / "labels.txt").exists():
        get_task(cfg.task).write_sample(data)
    train(data, out / "model", task=cfg.task, arch=cfg.arch, epochs=cfg.epochs, input_size=cfg.input_size,
          arch_options=cfg.arch_options)
    sensitivity(out / "model", data, out / "sensitivities.json")
    visualize(out / "model", out / "sensitivities.json", out / "visualization")
    prune_train(out / "model", data, out / "sensitivities.json", out / "pruned",
                eval_metric_loss=cfg.eval_metric_loss, epochs=cfg.prune_epochs)
    benchmark(out / "model", data, out / "benchmark_base.json")
    benchmark(out / "pruned", data, out / "benchmark_pruned.json")
    return report(out / "benchmark_base.json", out / "benchmark_pruned.json", out / "report.md")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="classification")
    parser.add_argument("--out", default="demo-out")
    args = parser.parse_args()
    start = time.perf_counter()
    out = Path(args.out).resolve()
    text = run_stages(DemoConfig(task=args.task), out)
    print(text)
    log("demo", f"done in {time.perf_counter() - start:.0f}s; outputs under {out}")


if __name__ == "__main__":
    main()
