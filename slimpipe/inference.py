"""Paddle Inference predictors: one function builds the configuration, so its settings can be tested."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class PredictorSettings:
    """How to run an exported model. CPU without MKLDNN is the source documents' setting."""

    device: str = "cpu"
    mkldnn: bool = False
    threads: int = 1
    ir_optim: bool = True
    memory_optim: bool = True


def make_config(model: Path | bytes, params: Path | bytes, settings: PredictorSettings):
    """A paddle.inference.Config from files or in-memory buffers."""
    import paddle.inference as pi

    if isinstance(model, bytes):
        config = pi.Config()
        config.set_model_buffer(model, len(model), params, len(params))
    else:
        config = pi.Config(str(model), str(params))
    if settings.device == "cpu":
        config.disable_gpu()
        config.set_cpu_math_library_num_threads(settings.threads)
        if settings.mkldnn:
            config.enable_mkldnn()
            config.set_mkldnn_cache_capacity(10)
        else:
            config.disable_mkldnn()
    config.switch_ir_optim(settings.ir_optim)
    if settings.memory_optim:
        config.enable_memory_optim()
    config.disable_glog_info()
    return config


class Predictor:
    """A created predictor with a list-of-arrays in, first-output-array out interface."""

    def __init__(self, config):
        import paddle.inference as pi

        self._p = pi.create_predictor(config)
        self._inputs = [self._p.get_input_handle(n) for n in self._p.get_input_names()]
        self._output = self._p.get_output_handle(self._p.get_output_names()[0])

    def feed(self, arrays: list[np.ndarray]) -> None:
        for handle, array in zip(self._inputs, arrays):
            handle.reshape(list(array.shape))
            handle.copy_from_cpu(np.ascontiguousarray(array))

    def run(self) -> None:
        self._p.run()

    def output(self) -> np.ndarray:
        return self._output.copy_to_cpu()

    def __call__(self, arrays: list[np.ndarray]) -> np.ndarray:
        self.feed(arrays)
        self.run()
        return self.output()
