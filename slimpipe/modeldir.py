"""A self-describing model directory: everything a later stage or a server needs, no hidden state.

    model.json          task, architecture and options, classes, input size, pruning plan, metrics
    weights.npz         the dygraph weights by structured name (numpy, never pickle)
    inference/model.pdmodel, inference/model.pdiparams    the exported Paddle Inference model
"""
from __future__ import annotations

import json
import math
import tempfile
import zipfile
import zlib
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
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(f"{path}: malformed model description: {exc}") from None
    if not isinstance(raw, dict):
        raise fail(f"{path}: malformed model description: expected a JSON object, found {type(raw).__name__}")
    if raw.get("format") != FORMAT:
        raise fail(f"{path}: unsupported format {raw.get('format')!r}, expected {FORMAT!r}")
    try:
        info = ModelInfo(**raw)
    except TypeError as exc:
        raise fail(f"{path}: malformed model description: {exc}") from None
    _check_fields(info, path)
    return info


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _check_fields(info: ModelInfo, path: Path) -> None:
    """Every field of model.json has the type later stages rely on; errors name the file and the field."""
    from slimpipe.errors import SlimpipeError
    from slimpipe.models.registry import get_arch, resolve_options

    def bad(field_: str, expected: str) -> SlimpipeError:
        return fail(f"{path}: field {field_!r} must be {expected}, found {getattr(info, field_)!r}"[:400])

    for name in ("task", "arch"):
        if not isinstance(getattr(info, name), str):
            raise bad(name, "a string")
    for name in ("arch_options", "metrics", "stats", "training"):
        if not isinstance(getattr(info, name), dict):
            raise bad(name, "a JSON object")
    if not (isinstance(info.classes, list) and info.classes and all(isinstance(c, str) for c in info.classes)):
        raise bad("classes", "a non-empty list of class names")
    size = info.input_size
    if not (isinstance(size, list) and len(size) == 2 and all(_is_int(v) and v >= 8 for v in size)):
        raise bad("input_size", "[height, width], each an integer of at least 8")
    if not all(_is_int(info.stats.get(k)) and info.stats[k] >= 0 for k in ("flops", "params")):
        raise bad("stats", "an object with integer flops and params")
    if info.pruning is not None:
        plan = info.pruning
        if not (isinstance(plan, dict) and isinstance(plan.get("criterion"), str)
                and isinstance(plan.get("ratios"), dict)
                and all(_is_number(r) and 0 <= r < 1 for r in plan["ratios"].values())):
            raise bad("pruning", "null or an object with a criterion and ratios in [0, 1) by layer")
    try:
        get_task(info.task)
        resolve_options(get_arch(info.arch, info.task), info.arch_options)
    except SlimpipeError as exc:
        raise fail(f"{path}: {exc}") from None


def build(info: ModelInfo):
    """The architecture with the pruning plan applied, weights uninitialised."""
    from slimpipe.models import build_model

    model = build_model(info.arch, len(info.classes), info.arch_options)
    apply_pruning(model, info.input_shape(), info.pruning)
    return model


def apply_pruning(model, input_shape: list[int], pruning: dict[str, Any] | None) -> None:
    """Remove for good the channels a model.json `pruning` record's ratios name, chosen by its criterion on
    `model`'s current weights; nothing where the record prunes nothing."""
    from slimpipe.pruning.channels import ChannelPruner

    if pruning and pruning.get("ratios"):
        ChannelPruner(model, input_shape, pruning["criterion"]).prune(pruning["ratios"], restorable=False)


def load(model_dir: str | Path):
    """(model in eval mode with its weights, ModelInfo)."""
    info = read_info(model_dir)
    model = build(info)
    path = Path(model_dir) / "weights.npz"
    if not path.is_file():
        raise fail(f"{path}: weights not found")
    model.set_state_dict(_read_weights(path, model.state_dict()))
    model.eval()
    return model, info


def _read_weights(path: Path, state: dict[str, Any]) -> dict[str, np.ndarray]:
    """The arrays of weights.npz that `state` (a model's state dict) needs, each checked for its name,
    shape, type and finite values."""
    unreadable = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)
    try:
        archive = np.load(path, allow_pickle=False)
    except unreadable as exc:
        raise fail(f"{path}: not a readable weights archive ({str(exc)[:200] or type(exc).__name__})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise fail(f"{path}: not a weights archive (a single array; expected an .npz of named arrays)")
    with archive:
        missing = sorted(set(state) - set(archive.files))
        if missing:
            raise fail(f"{path}: weights missing for {missing[:3]}")
        try:
            weights = {name: archive[name] for name in state}
        except unreadable as exc:
            raise fail(f"{path}: not a readable weights archive ({str(exc)[:200] or type(exc).__name__})") from None
    for name, tensor in state.items():
        array, expected = weights[name], tensor.numpy()
        if list(array.shape) != list(expected.shape):
            raise fail(f"{path}: weight {name} has shape {list(array.shape)}, the model expects {list(expected.shape)}")
        if array.dtype != expected.dtype:
            raise fail(f"{path}: weight {name} is {array.dtype}, the model expects {expected.dtype}")
        if not np.isfinite(array).all():
            raise fail(f"{path}: weight {name} holds NaN or infinite values")
    return weights


def export(model, prefix: str | Path, input_shapes: dict[str, list[int]]) -> None:
    """paddle.jit.save with one input per name (shapes less the batch axis, from Task.input_shapes)."""
    import paddle
    from paddle.static import InputSpec

    spec = [InputSpec([None, *shape], "float32", name) for name, shape in input_shapes.items()]
    forget_stale_traces()
    paddle.jit.save(model, str(prefix), input_spec=spec)


def forget_stale_traces() -> None:
    """Paddle 2.6's dy2static records the parameters a trace reads under id(program) and drops the record
    only when jit.save's own trace succeeds. PaddleSlim's tracer (paddleslim.core.dygraph._dy2prog, run by
    every ChannelPruner) never drops its records, nor does a trace that raised: a later program allocated
    at the same address inherits the dead one's parameters, and jit.save fails with a KeyError naming a
    parameter of another model (seen in the test suite, depending on allocation). No trace is in progress
    when an export starts, so every record left is stale."""
    from paddle.jit.dy2static.program_translator import ProgramTranslator

    translator = ProgramTranslator.get_instance()
    for name in ("_params_recorder", "_inplace_map"):
        records = getattr(getattr(translator, name, None), "params_dict", None)
        if isinstance(records, dict):
            records.clear()


def save(out: str | Path, model, info: ModelInfo, stage: str | None = None) -> Path:
    """Write the whole directory aside and move it into place only when complete (marked as `stage`'s)."""
    model.eval()
    with atomic.output_dir(out, stage) as tmp:
        np.savez(tmp / "weights.npz", **{k: v.numpy() for k, v in model.state_dict().items()})
        export(model, tmp / INFERENCE_PREFIX, get_task(info.task).input_shapes(info.input_size))
        info.stats["param_file_bytes"] = (tmp / f"{INFERENCE_PREFIX}.pdiparams").stat().st_size
        atomic.write_json(tmp / "model.json", asdict(info))
    return Path(out)


def inference_paths(model_dir: str | Path) -> tuple[Path, Path]:
    """The exported program and parameter files, checked to be a Paddle program and its parameters."""
    from slimpipe.pdformat import check_inference_files

    base = Path(model_dir) / INFERENCE_PREFIX
    model, params = base.with_suffix(".pdmodel"), base.with_suffix(".pdiparams")
    for p in (model, params):
        if not p.is_file():
            raise fail(f"{p}: exported inference model not found")
    check_inference_files(model, params)
    return model, params


def check_export(model, info: ModelInfo) -> None:
    """Export `model` to a scratch folder and discard it: run before training, so that a model that cannot
    be exported fails in seconds instead of after its training."""
    model.eval()
    with tempfile.TemporaryDirectory(prefix="slimpipe-export-check-") as tmp:
        try:
            export(model, Path(tmp) / "model", get_task(info.task).input_shapes(info.input_size))
        except Exception as exc:  # Paddle's own error types
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise fail(f"{info.arch} at input {info.input_size}: the model cannot be exported ({first})") from None
