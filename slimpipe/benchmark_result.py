"""The benchmark stage's result file (`slimpipe.benchmark/1`) as a typed record, and the figures that compare
two of them (the report's table, the quality gate, the sweep and the pipeline's Metrics share them).

A measured result holds the latency, the size and the metric; a result the pipeline records when the GPU
benchmark could not run holds only what was asked and the reason (`measured` false, no figures). Only the
standard library is imported here: the report, sweep and publish pods read results without Paddle.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from slimpipe.errors import fail

FORMAT = "slimpipe.benchmark/1"
# The keys of a "not measured" record, in the order written (a subset of the measured record's order).
NOT_MEASURED_KEYS = ("format", "model", "arch", "task", "pruned", "device", "trt", "measured", "reason")


@dataclass(kw_only=True)
class BenchmarkResult:
    """The contents of a benchmark result file; fields in the order they are written."""

    format: str = FORMAT
    model: str | None = None
    arch: str | None = None
    task: str | None = None
    pruned: bool = False
    pruning: dict[str, Any] | None = None  # the pruning plan's summary (criterion, target, shares, latencies)
    device: str | None = None
    mkldnn: bool | None = None
    threads: int | None = None
    trt: bool = False
    precision: str | None = None
    measured: bool = True
    reason: str | None = None  # why a result was not measured (only then)
    batch_size: int | None = None
    warmup: int | None = None
    repeats: int | None = None
    latency_ms: dict[str, float] | None = None  # mean, p50, p90, std, min
    param_file_bytes: int | None = None
    flops: int | None = None
    params: int | None = None
    metric: str | None = None
    metric_value: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    classes: list[str] | None = None
    val_images: int | None = None
    trt_shapes: str | None = None
    host: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, written back as read

    @property
    def latency_mean_ms(self) -> float:
        """Mean milliseconds per run: the latency every comparison uses."""
        return float(self.latency_ms["mean"])

    @property
    def pruning_summary(self) -> dict[str, Any]:
        """The pruning summary, empty for an unpruned model."""
        return self.pruning or {}

    def compare(self, pruned: BenchmarkResult) -> Comparison:
        """This (the base model's) result against a pruned model's."""
        return Comparison.of(self, pruned)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, key for key as the benchmark stage has always written it."""
        names = [f.name for f in fields(self) if f.name != "extra"]
        keep = NOT_MEASURED_KEYS if not self.measured else [n for n in names if n != "reason"]
        data = {name: getattr(self, name) for name in names if name in keep}
        return data | self.extra

    def write(self, path: str | Path) -> Path:
        from slimpipe import atomic

        return atomic.write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchmarkResult:
        known = {f.name for f in fields(cls)} - {"extra"}
        return cls(**{k: v for k, v in data.items() if k in known},
                   extra={k: v for k, v in data.items() if k not in known})

    @classmethod
    def read(cls, path: str | Path, measured: bool = True) -> BenchmarkResult:
        """A benchmark result; with `measured`, one that holds figures (not a "not measured" record)."""
        path = Path(path)
        if not path.is_file():
            raise fail(f"{path}: benchmark result not found")
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise TypeError(f"a JSON {type(data).__name__}, not an object")
            if data.get("measured", True):
                data["latency_ms"]["mean"], data["metric_value"], data["param_file_bytes"]
            else:
                data["reason"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
            raise fail(f"{path}: not a slimpipe benchmark result ({exc})") from None
        result = cls.from_dict(data)
        if measured and not result.measured:
            raise fail(f"{path}: this benchmark was not measured ({result.reason})")
        return result


@dataclass(frozen=True)
class Comparison:
    """A pruned model's benchmark against its base model's: the figures the report's table, the quality gate,
    the sweep and the pipeline's Metrics share."""

    metric: str
    metric_base: float
    metric_pruned: float
    metric_drop_points: float  # 100 x (base - pruned): positive when the pruned model is worse
    pruned_params: float  # share of parameters removed
    pruned_flops: float
    speedup: float  # base latency / pruned latency
    flops_ratio: float  # base FLOPs / pruned FLOPs
    speedup_efficiency: float  # how much of the FLOPs cut became speed: 1 = latency fell as much as FLOPs did
    latency_ms_base: float
    latency_ms_pruned: float
    param_file_bytes_base: int
    param_file_bytes_pruned: int

    @classmethod
    def of(cls, base: BenchmarkResult, pruned: BenchmarkResult) -> Comparison:
        if base.metric != pruned.metric or base.task != pruned.task:
            raise fail("the two benchmarks measure different tasks or metrics")
        speedup = base.latency_mean_ms / pruned.latency_mean_ms
        flops_ratio = base.flops / pruned.flops
        return cls(metric=base.metric, metric_base=base.metric_value, metric_pruned=pruned.metric_value,
                   metric_drop_points=100.0 * (base.metric_value - pruned.metric_value),
                   pruned_params=1.0 - pruned.params / base.params, pruned_flops=1.0 - pruned.flops / base.flops,
                   speedup=speedup, flops_ratio=flops_ratio, speedup_efficiency=speedup / flops_ratio,
                   latency_ms_base=base.latency_mean_ms, latency_ms_pruned=pruned.latency_mean_ms,
                   param_file_bytes_base=base.param_file_bytes, param_file_bytes_pruned=pruned.param_file_bytes)

    def passes(self, max_drop_points: float) -> bool:
        """The quality gate: the metric dropped by at most `max_drop_points` points."""
        return self.metric_drop_points <= max_drop_points

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def figures(self) -> dict[str, float]:
        """Every numeric figure as a float (the pipeline logs them as Metrics), in field order."""
        return {k: float(v) for k, v in asdict(self).items() if isinstance(v, (int, float))}


def comparison(base: BenchmarkResult, pruned: BenchmarkResult) -> Comparison:
    """The figures of a pruned model's result against its base model's."""
    return Comparison.of(base, pruned)
