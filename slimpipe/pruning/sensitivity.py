"""Per-layer sensitivity: the relative metric loss when one layer alone is pruned at each ratio.

The file is plain JSON (never pickle), written atomically after every evaluation so an interrupted run
resumes where it stopped:
    {"format", "task", "arch", "fingerprint", "metric", "baseline", "criterion", "ratios",
     "sensitivities": {layer: {"0.1": loss, ...}}, "evaluations", "seconds_per_evaluation"}
loss = (baseline - pruned) / (baseline + 1e-3), PaddleSlim's dygraph formula.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from slimpipe import atomic
from slimpipe.errors import fail
from slimpipe.progress import Progress, log

FORMAT = "slimpipe.sensitivities/1"
DEFAULT_RATIOS = tuple(round(0.1 * i, 2) for i in range(1, 10))
EPS = 1e-3


def relative_loss(baseline: float, pruned: float) -> float:
    return (baseline - pruned) / (baseline + EPS)


def ratio_key(ratio: float) -> str:
    return str(round(float(ratio), 4))


def parse_ratios(text: str) -> list[float]:
    """`0.1,0.2,...` -> sorted unique floats, each in (0, 1)."""
    try:
        ratios = sorted({round(float(x), 4) for x in text.split(",") if x.strip()})
    except ValueError:
        raise fail(f"--ratios {text!r}: expected comma-separated numbers like 0.1,0.2,0.3") from None
    bad = [r for r in ratios if not 0.0 < r < 1.0]
    if not ratios or bad:
        raise fail(f"--ratios {text!r}: every ratio must be in (0, 1)")
    return ratios


def read(path: str | Path) -> dict[str, Any]:
    """Load and validate a sensitivities JSON file; ratio keys become floats in `table`."""
    path = Path(path)
    if not path.is_file():
        raise fail(f"{path}: sensitivities file not found")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(f"{path}: not valid JSON ({exc}); sensitivities files are JSON, not PaddleSlim pickles") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise fail(f"{path}: not a slimpipe sensitivities file (format {FORMAT!r} expected)")
    try:
        data["table"] = {layer: {float(r): float(v) for r, v in losses.items()}
                         for layer, losses in data["sensitivities"].items()}
    except (AttributeError, KeyError, ValueError, TypeError) as exc:
        raise fail(f"{path}: malformed sensitivities table: {exc}") from None
    return data


def check_matches(data: dict[str, Any], path: Path, arch: str, fingerprint: str, layers: list[str]) -> None:
    """Refuse sensitivities measured on a different model."""
    if data.get("arch") != arch or data.get("fingerprint") != fingerprint:
        raise fail(f"{path}: sensitivities were computed for another model "
                   f"(arch {data.get('arch')!r}, fingerprint {data.get('fingerprint')!r}; "
                   f"this model: arch {arch!r}, fingerprint {fingerprint!r})")
    unknown = sorted(set(data["table"]) - set(layers))
    if unknown:
        raise fail(f"{path}: layer {unknown[0]!r} is not a prunable layer of this model")


def compute(out: Path, header: dict[str, Any], layers: list[str], ratios: list[float],
            baseline: float, evaluate_pruned: Callable[[str, float], float],
            on_save: Callable[[Path, bool], None] | None = None) -> dict[str, Any]:
    """Fill in every missing (layer, ratio) pair of `out`, saving after each (and calling
    `on_save(out, final)`, e.g. to checkpoint it elsewhere); returns the file's data."""
    on_save = on_save or (lambda path, final: None)
    data = _start_or_resume(out, header, ratios, baseline)
    todo = [(layer, r) for layer in layers for r in ratios
            if ratio_key(r) not in data["sensitivities"].get(layer, {})]
    log("sensitivity", f"{len(layers)} layers x {len(ratios)} ratios: {len(todo)} evaluations to run, "
                       f"{len(layers) * len(ratios) - len(todo)} already in {out}")
    progress = Progress("sensitivity", len(todo))
    spent = data.get("seconds_evaluating", 0.0)
    for layer, ratio in todo:
        start = time.perf_counter()
        loss = relative_loss(baseline, evaluate_pruned(layer, ratio))
        spent += time.perf_counter() - start
        data["sensitivities"].setdefault(layer, {})[ratio_key(ratio)] = loss
        data["evaluations"] += 1
        data["seconds_evaluating"] = spent
        data["seconds_per_evaluation"] = spent / data["evaluations"]
        atomic.write_json(out, data)
        on_save(out, False)
        progress.update(extra=f"{layer} @ {ratio:.2f}: loss {loss:+.4f}")
    data["complete"] = True
    atomic.write_json(out, data)
    on_save(out, True)
    return data


def require_complete(data: dict[str, Any], path: Path) -> None:
    """Stages that consume sensitivities refuse a file whose analysis has not finished."""
    if not data.get("complete"):
        raise fail(f"{path}: the sensitivity analysis in this file is incomplete; re-run "
                   f"`slimpipe sensitivity` with the same --out to finish it")


def _start_or_resume(out: Path, header: dict[str, Any], ratios: list[float], baseline: float) -> dict[str, Any]:
    if out.exists():
        data = read(out)
        data.pop("table")
        for key in ("task", "arch", "fingerprint", "metric", "criterion"):
            if data.get(key) != header[key]:
                raise fail(f"{out}: cannot resume: its {key} is {data.get(key)!r}, this run's is {header[key]!r}")
        if abs(float(data["baseline"]) - baseline) > 1e-6:
            raise fail(f"{out}: cannot resume: it was measured on other weights "
                       f"(baseline {data['baseline']}, this model's {baseline})")
        data["ratios"] = sorted(set(data["ratios"]) | set(ratios))
        data["complete"] = False
        return data
    data = dict(header, format=FORMAT, baseline=baseline, ratios=list(ratios), complete=False, sensitivities={},
                evaluations=0, seconds_evaluating=0.0, seconds_per_evaluation=None)
    atomic.write_json(out, data)
    return data
