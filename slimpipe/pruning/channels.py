"""PaddleSlim's filter pruners behind stable, human-readable layer names.

PaddleSlim keys everything by `param.name` (`conv2d_7.w_0`), which depends on how many layers the
process built before; files written here use the structured name (`features.3.conv.0.0.weight`).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import logging
from typing import Iterator

import numpy as np

from slimpipe.errors import fail
from slimpipe.pruning.workers import register_concat_worker

CRITERIA = ("l1_norm", "fpgm")


def _silenced():
    """PaddleSlim 2.6 prints a line per pruned tensor ("hit pruning plan"); keep stdout for results."""
    return contextlib.redirect_stdout(io.StringIO())


def _quiet_paddleslim() -> None:
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("paddleslim"):
            logging.getLogger(name).setLevel(logging.ERROR)


class ChannelPruner:
    """Prunable layers of a model and the means to mask (evaluate) or remove (prune) their channels."""

    def __init__(self, model, input_shape: list[int], criterion: str = "l1_norm"):
        from paddleslim.dygraph import FPGMFilterPruner, L1NormFilterPruner

        if criterion not in CRITERIA:
            raise fail(f"unknown criterion {criterion!r}; expected one of {', '.join(CRITERIA)}")
        pruner_cls = L1NormFilterPruner if criterion == "l1_norm" else FPGMFilterPruner
        register_concat_worker()
        _quiet_paddleslim()
        self.model = model
        self.criterion = criterion
        self._pruner = pruner_cls(model, trace_inputs(input_shape))
        _quiet_paddleslim()
        self.to_param = {n: p.name for n, p in model.named_parameters()}
        self.to_layer = {v: k for k, v in self.to_param.items()}
        grouped = {p.name for layer in model.sublayers() if getattr(layer, "_groups", 1) > 1
                   for p in layer.parameters(include_sublayers=False)}
        shapes = {p.name: list(p.shape) for p in model.parameters()}
        # A model may narrow the search, as PaddleDetection's configs prune only YOLOv3's neck by default.
        scope = tuple(getattr(model, "prunable_prefixes", None) or ("",))
        self.channels: dict[str, int] = {}
        for collection in self._pruner.collections:
            master = collection.master_name
            if master in grouped or master not in self.to_layer or not self.to_layer[master].startswith(scope):
                continue
            self.channels[self.to_layer[master]] = shapes[master][0]

    @property
    def layers(self) -> list[str]:
        """Prunable layers (masters of PaddleSlim's coupled-channel groups), depthwise convs excluded."""
        return list(self.channels)

    def verified_layers(self, input_shape: list[int]) -> list[str]:
        """The layers whose structural pruning leaves a model that runs. PaddleSlim can miss a consumer
        of a pruned channel (seen: a conv output reaching a concat through bilinear upsampling); zeroing
        would still evaluate fine there, so such layers must be dropped before any sensitivity is measured."""
        import paddle

        from slimpipe.progress import log

        x = paddle.zeros(input_shape)
        good = []
        for layer in self.layers:
            try:
                with self.pruned({layer: 0.5 if self.channels[layer] > 1 else 0.0}), paddle.no_grad():
                    self.model.eval()
                    self.model(x)
                good.append(layer)
            except (ValueError, RuntimeError, AssertionError) as exc:
                log("pruning", f"layer {layer} skipped: PaddleSlim cannot prune it consistently "
                               f"({str(exc).splitlines()[0][:120]})")
        return good

    def fingerprint(self) -> str:
        """Identifies the architecture: the prunable layers and their widths."""
        text = ";".join(f"{k}:{v}" for k, v in self.channels.items())
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def check_ratio(self, layer: str, ratio: float) -> int:
        """Channels removed from `layer` at `ratio`; refuses a ratio that would remove all of them."""
        if layer not in self.channels:
            raise fail(f"layer {layer!r} is not a prunable layer of this model")
        if not 0.0 <= ratio < 1.0:
            raise fail(f"pruning ratio {ratio} for layer {layer!r} is outside [0, 1)")
        total = self.channels[layer]
        removed = int(round(total * ratio))
        if removed >= total:
            raise fail(f"ratio {ratio:.4f} would remove every channel of layer {layer!r} ({total} channels)")
        return removed

    @contextlib.contextmanager
    def masked(self, layer: str, ratio: float) -> Iterator[dict[str, np.ndarray]]:
        """Zero the channels `ratio` would remove, yield the changed tensors by param name, then restore."""
        self.check_ratio(layer, ratio)
        before = {p.name: p for p in list(self.model.parameters()) + list(self.model.buffers())}
        with _silenced():
            plan = self._pruner.prune_var(self.to_param[layer], 0, ratio, apply="lazy")
        try:
            yield {name: before[name].numpy() for name in plan._masks if name in before}
        finally:
            with _silenced():
                plan.restore(self.model)

    def prune(self, ratios: dict[str, float], restorable: bool = True):
        """Remove channels (structural pruning); returns PaddleSlim's plan, which can restore them. Not
        `restorable` (for good): the copies of the unpruned values PaddleSlim keeps for that are dropped
        (drop_backups) and None is returned."""
        for layer, ratio in ratios.items():
            self.check_ratio(layer, ratio)
        by_param = {self.to_param[k]: float(v) for k, v in ratios.items() if v > 0}
        if not by_param:
            return None
        with _silenced():
            plan = self._pruner.prune_vars(by_param, 0)
        if restorable:
            return plan
        drop_backups(self.model)
        return None

    @contextlib.contextmanager
    def pruned(self, ratios: dict[str, float]) -> Iterator[None]:
        """Structurally pruned for the duration of the block (to count FLOPs and parameters), then restored."""
        plan = self.prune(ratios)
        try:
            yield
        finally:
            if plan is not None:
                with _silenced():
                    plan.restore(self.model)


# PaddleSlim's pruning plan keeps each pruned tensor's unpruned values in a buffer of its layer named
# `<param.name with "." as "_">_backup` (paddleslim/dygraph/prune/pruning_plan.py), so that `restore` can
# put them back. Kept after pruning for good, they were saved in weights.npz (the unpruned model's weights
# again: 3.4 of a pruned UNet's 3.6 MB) under names that depend on how many layers the process built
# before, so a pruned model failed to load in a process that had built another model first.
BACKUP_SUFFIX = "_backup"


def drop_backups(model) -> int:
    """Remove PaddleSlim's restore copies (BACKUP_SUFFIX buffers) from every layer; returns how many."""
    dropped = 0
    for layer in model.sublayers(include_self=True):
        for name in [n for n in layer._buffers if n.endswith(BACKUP_SUFFIX)]:
            del layer._buffers[name]
            dropped += 1
    return dropped


def trace_inputs(input_shape: list[int]) -> list[np.ndarray]:
    """The input PaddleSlim traces a model with. Given a shape, PaddleSlim embeds a tensor of ones in the
    traced program with `assign`, which refuses more than about a million values ("The size of input is
    too big"), so a 608x608 detector could not be traced; an array becomes a placeholder of its shape
    instead, and np.zeros reserves no memory until written."""
    return [np.zeros(input_shape, np.float32)]


def model_stats(model, input_shape: list[int]) -> dict[str, int]:
    """FLOPs (PaddleSlim's count, multiply-adds as it defines them) and parameter count, at any input size."""
    from paddleslim.analysis import flops

    _quiet_paddleslim()
    n_params = int(sum(int(np.prod(p.shape)) for p in model.parameters()))
    return {"flops": int(flops(model, trace_inputs(input_shape))), "params": n_params}
