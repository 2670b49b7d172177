"""A self-describing model directory: everything a later stage or a server needs, no hidden state.

    model.json          task, architecture and options, classes, input size, pruning plan, metrics
    weights.npz         the dygraph weights by structured name (numpy, never pickle)
    inference/model.pdmodel, inference/model.pdiparams    the exported Paddle Inference model
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from slimpipe import atomic
from slimpipe.errors import fail
from slimpipe.tasks import get_task

FORMAT = "slimpipe.model/1"
INFERENCE_PREFIX = "inference/model"


@dataclass
class ModelInfo:
    """The contents of model.json."""

    task: str
    arch: str
    arch_options: dict[str, Any]
    classes: list[str]
    input_size: list[int]
    pruning: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT

    def input_shape(self, batch: int = 1) -> list[int]:
        return [batch, 3, *self.input_size]


def read_info(model_dir: str | Path) -> ModelInfo:
    """Parse model.json, naming the file when it is missing or malformed."""
    path = Path(model_dir) / "model.json"
    if not path.is_file():
        raise fail(f"{path}: not found; {model_dir} is not a slimpipe model directory")
    try:
        raw = json.loads(path.read_text())
        if raw.get("format") != FORMAT:
            raise fail(f"{path}: unsupported format {raw.get('format')!r}, expected {FORMAT!r}")
        return ModelInfo(**raw)
    except (json.JSONDecodeError, TypeError) as exc:
        raise fail(f"{path}: malformed model description: {exc}") from None


def build(info: ModelInfo):
    """The architecture with the pruning plan applied, weights uninitialised."""
    from slimpipe.models import build_model
    from slimpipe.pruning.channels import ChannelPruner

    model = build_model(info.arch, len(info.classes), info.arch_options)
    if info.pruning and info.pruning.get("ratios"):
        ChannelPruner(model, info.input_shape(), info.pruning["criterion"]).prune(info.pruning["ratios"])
    return model


def load(model_dir: str | Path):
    """(model in eval mode with its weights, ModelInfo)."""
    info = read_info(model_dir)
    model = build(info)
    path = Path(model_dir) / "weights.npz"
    if not path.is_file():
        raise fail(f"{path}: weights not found")
    with np.load(path, allow_pickle=False) as weights:
        state = model.state_dict()
        missing = sorted(set(state) - set(weights.files))
        if missing:
            raise fail(f"{path}: weights missing for {missing[:3]}")
        for name, tensor in state.items():
            if list(weights[name].shape) != list(tensor.shape):
                raise fail(f"{path}: weight {name} has shape {list(weights[name].shape)}, "
                           f"the model expects {list(tensor.shape)}")
        model.set_state_dict({k: weights[k] for k in state})
    model.eval()
    return model, info


def export(model, prefix: str | Path, input_shapes: dict[str, list[int]]) -> None:
    """paddle.jit.save with one input per name (shapes less the batch axis, from Task.input_shapes)."""
    import paddle
    from paddle.static import InputSpec

    spec = [InputSpec([None, *shape], "float32", name) for name, shape in input_shapes.items()]
    paddle.jit.save(model, str(prefix), input_spec=spec)


def save(out: str | Path, model, info: ModelInfo) -> Path:
    """Write the whole directory aside and move it into place only when complete."""
    model.eval()
    with atomic.output_dir(out) as tmp:
        np.savez(tmp / "weights.npz", **{k: v.numpy() for k, v in model.state_dict().items()})
        export(model, tmp / INFERENCE_PREFIX, get_task(info.task).input_shapes(info.input_size))
        info.stats["param_file_bytes"] = (tmp / f"{INFERENCE_PREFIX}.pdiparams").stat().st_size
        atomic.write_json(tmp / "model.json", asdict(info))
    return Path(out)


def inference_paths(model_dir: str | Path) -> tuple[Path, Path]:
    base = Path(model_dir) / INFERENCE_PREFIX
    model, params = base.with_suffix(".pdmodel"), base.with_suffix(".pdiparams")
    for p in (model, params):
        if not p.is_file():
            raise fail(f"{p}: exported inference model not found")
    return model, params
