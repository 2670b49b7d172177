"""Corrupt model files and numbers that are nonsense at run time: a clear error, exit 2, nothing written.

Cases that hand a broken file to Paddle's C++ run in a child process, where a crash (exit 139) would show.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.badinput import Case, Workspace, check


def write(*parts: str, data: bytes | str):
    """setup: replace the workspace file at `parts` with `data`."""
    def setup(w: Workspace) -> None:
        path = w.path(*parts)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return setup


def truncate(*parts: str, keep: float = 0.5):
    """setup: cut the workspace file at `parts` to a fraction of its length."""
    def setup(w: Workspace) -> None:
        path = w.path(*parts)
        data = path.read_bytes()
        path.write_bytes(data[:int(len(data) * keep)])
    return setup


def append(*parts: str, data: bytes):
    def setup(w: Workspace) -> None:
        with w.path(*parts).open("ab") as f:
            f.write(data)
    return setup


def edit_info(**fields):
    """setup: change fields of model/model.json."""
    def setup(w: Workspace) -> None:
        path = w.path("model", "model.json")
        info = json.loads(path.read_text())
        info.update(fields)
        path.write_text(json.dumps(info))
    return setup


def edit_options(**options):
    def setup(w: Workspace) -> None:
        path = w.path("model", "model.json")
        info = json.loads(path.read_text())
        info["arch_options"].update(options)
        path.write_text(json.dumps(info))
    return setup


def nan_weight(w: Workspace) -> None:
    path = w.path("model", "weights.npz")
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    name = sorted(arrays)[0]
    arrays[name] = arrays[name].copy()
    arrays[name].flat[0] = np.nan
    np.savez(path, **arrays)


def first_layer(w: Workspace) -> str:
    return next(iter(json.loads(Path(w.sens).read_text())["sensitivities"]))


def poison_sensitivity(value: str):
    """setup: the first layer's loss at ratio 0.3 becomes `value` (JSON's NaN or Infinity), as a file
    written by hand or by another tool would hold it."""
    def setup(w: Workspace) -> None:
        layer = first_layer(w)
        text = Path(w.sens).read_text()
        data = json.loads(text)
        data["sensitivities"][layer]["0.3"] = "__POISON__"
        Path(w.sens).write_text(json.dumps(data).replace('"__POISON__"', value))
    return setup


def nan_message(value: str):
    return lambda w: f"layer {first_layer(w)!r} at ratio 0.3: loss {value} is not a finite number"


def narrowest(w: Workspace) -> tuple[str, int]:
    layers = json.loads(Path(w.sens).read_text())["layers"]
    name = min(layers, key=layers.get)
    return name, layers[name]


def benchmark(w: Workspace) -> list:
    return ["benchmark", "--model", w.model, "--dataset", w.data, "--repeats", "1", "--warmup", "0",
            "--out", w.path("bench.json")]


def sensitivity(w: Workspace, *extra) -> list:
    return ["sensitivity", "--model", w.model, "--dataset", w.data, "--ratios", "0.5",
            "--out", w.path("s.json"), *extra]


def prune_train(w: Workspace, *extra) -> list:
    return ["prune-train", "--model", w.model, "--dataset", w.data, "--sensitivities", w.sens,
            "--eval-metric-loss", "0.1", "--epochs", "1", "--out", w.path("pruned"), *extra]


def visualize(w: Workspace) -> list:
    return ["visualize", "--model", w.model, "--sensitivities", w.sens, "--out", w.path("vis")]


def train(w: Workspace, *extra) -> list:
    return ["train", "--dataset", w.data, "--epochs", "1", "--input-size", "32", "--out", w.path("m"), *extra]


PDMODEL = ("model", "inference", "model.pdmodel")
PDIPARAMS = ("model", "inference", "model.pdiparams")
WEIGHTS = ("model", "weights.npz")
INFO = ("model", "model.json")

CASES = [
    # Family 4: corrupt model files. Paddle's C++ crashed (SIGSEGV) on these: run in a child process.
    Case("benchmark-pdmodel-is-text", benchmark, "model.pdmodel: not a Paddle inference program",
         setup=write(*PDMODEL, data="this is not a program\n"), subprocess=True),
    Case("benchmark-pdmodel-truncated", benchmark, "model.pdmodel: not a Paddle inference program",
         setup=truncate(*PDMODEL), subprocess=True),
    Case("benchmark-pdiparams-truncated", benchmark, "model.pdiparams: truncated parameter file",
         setup=truncate(*PDIPARAMS), subprocess=True),
    Case("benchmark-pdiparams-empty", benchmark, "model.pdiparams: truncated parameter file",
         setup=write(*PDIPARAMS, data=b"")),
    Case("benchmark-pdiparams-is-text", benchmark, "model.pdiparams: not a parameter file of this program",
         setup=write(*PDIPARAMS, data="these are not the parameters you are looking for\n" * 4)),
    Case("benchmark-pdiparams-too-long", benchmark, "model.pdiparams: longer than the",
         setup=append(*PDIPARAMS, data=b"\0" * 64)),
    Case("benchmark-model-json-is-a-list", benchmark, "model.json: malformed model description: expected a JSON "
         "object, found list", setup=write(*INFO, data="[1, 2]")),
    Case("benchmark-model-json-is-a-number", benchmark, "model.json: malformed model description: expected a "
         "JSON object, found int", setup=write(*INFO, data="42")),
    Case("benchmark-model-json-input-size-text", benchmark, "model.json: field 'input_size' must be",
         setup=edit_info(input_size="big")),
    Case("benchmark-model-json-no-flops", benchmark, "model.json: field 'stats' must be",
         setup=edit_info(stats={})),
    Case("sensitivity-weights-are-text", sensitivity, "weights.npz: not a readable weights archive",
         setup=write(*WEIGHTS, data="hello\n")),
    Case("sensitivity-weights-truncated", sensitivity, "weights.npz: not a readable weights archive",
         setup=truncate(*WEIGHTS)),
    Case("sensitivity-weights-hold-nan", sensitivity, "holds NaN or infinite values", setup=nan_weight),
    Case("sensitivity-model-json-classes-text", sensitivity, "model.json: field 'classes' must be",
         setup=edit_info(classes="0123456789")),
    Case("prune-train-weights-truncated", prune_train, "weights.npz: not a readable weights archive",
         setup=truncate(*WEIGHTS, keep=0.9)),
    Case("prune-train-model-json-options-list", prune_train, "model.json: field 'arch_options' must be",
         setup=edit_info(arch_options=[])),
    Case("visualize-model-json-is-a-list", visualize, "model.json: malformed model description",
         setup=write(*INFO, data="[]")),
    Case("visualize-model-json-arch-number", visualize, "model.json: field 'arch' must be a string",
         setup=edit_info(arch=5)),
    Case("visualize-model-json-not-utf8", visualize, "model.json: malformed model description",
         setup=write(*INFO, data=b"\xff\xfe{}")),
    # Family 3: numbers that are nonsense at run time.
    Case("prune-train-sensitivity-nan", prune_train, nan_message("nan"), setup=poison_sensitivity("NaN")),
    Case("prune-train-sensitivity-infinite", prune_train, nan_message("inf"), setup=poison_sensitivity("Infinity")),
    Case("visualize-sensitivity-nan", visualize, nan_message("nan"), setup=poison_sensitivity("NaN")),
    Case("prune-train-align-wider-than-a-layer", lambda w: prune_train(w, "--align", 4096),
         lambda w: f"--align 4096 is wider than layer {narrowest(w)[0]!r}, which has {narrowest(w)[1]} channels"),
    Case("train-scale-zero", lambda w: train(w, "--arch-options", "scale=0"),
         "mobilenetv2 option scale: '0' must be a finite number above 0"),
    Case("train-scale-negative", lambda w: train(w, "--arch-options", "scale=-0.5"),
         "mobilenetv2 option scale: '-0.5' must be a finite number above 0"),
    Case("train-scale-nan", lambda w: train(w, "--arch-options", "scale=nan"),
         "mobilenetv2 option scale: 'nan' must be a finite number above 0"),
    Case("train-unet-width-zero", lambda w: train(w, "--task", "segmentation", "--arch-options", "width=0"),
         "unet option width: '0' must be a finite number above 0"),
    Case("prune-train-model-json-scale-zero", prune_train, "model.json: mobilenetv2 option scale: 0 must be",
         setup=edit_options(scale=0)),
    Case("sensitivity-subset-larger-than-val", lambda w: sensitivity(w, "--subset", 1000),
         lambda w: f"--subset 1000: the val split of {w.data} has only 60 images"),
    Case("sensitivity-bad-subset-with-a-checkpoint-writes-nothing",
         lambda w: sensitivity(w, "--subset", 1000, "--checkpoint", w.sens),
         lambda w: f"--subset 1000: the val split of {w.data} has only 60 images"),
    Case("train-loss-becomes-nan", lambda w: train(w, "--arch-options", "scale=0.25", "--learning-rate", "1e30"),
         "the training loss became nan at epoch 1, step"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(case, workspace, capsys):
    check(case, workspace, capsys)
