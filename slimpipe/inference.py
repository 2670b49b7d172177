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
    gpu_memory_mb: int = 256
    gpu_id: int = 0
    trt: bool = False
    precision: str = "fp32"
    trt_workspace: int = 1 << 30
    trt_min_subgraph: int = 3
    trt_cache: str | None = None
    # TensorRT dynamic shapes, either given per input name as (min, opt, max) shapes, or read from a shape
    # range file that a tuning run wrote (`collect_shapes`); neither = the static shapes of the first run.
    trt_dynamic_shapes: dict[str, tuple[list[int], list[int], list[int]]] | None = None
    trt_tuned_shapes: str | None = None
    collect_shapes: str | None = None  # write the shape range file while running (the tuning run)
    deleted_passes: tuple[str, ...] = ()  # IR passes left out (the masked evaluator's, see masked_eval.py)


def make_config(model: Path | bytes, params: Path | bytes, settings: PredictorSettings):
    """A paddle.inference.Config from files or in-memory buffers."""
    import paddle.inference as pi

    if isinstance(model, bytes):
        config = pi.Config()
        config.set_model_buffer(model, len(model), params, len(params))
    else:
        config = pi.Config(str(model), str(params))
    return apply_settings(config, settings)


def open_predictor(program: Path, params: Path, settings: PredictorSettings) -> "Predictor":
    """A predictor for an exported model's files, checked first (Paddle's C++ crashes the process on a
    file that is not a program); what Paddle still raises becomes an error naming the files."""
    from slimpipe.errors import fail
    from slimpipe.pdformat import check_inference_files

    check_inference_files(program, params)
    try:
        return Predictor(make_config(program, params, settings))
    except Exception as exc:  # Paddle raises its own error types (ValueError, RuntimeError, OSError...)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise fail(f"{program}, {params.name}: Paddle Inference could not create a predictor for this model "
                   f"({first})") from None


def apply_settings(config, settings: PredictorSettings):
    """Set `settings` on a paddle.inference.Config (or anything with its methods); returns it."""
    if settings.device == "cpu":
        config.disable_gpu()
        config.set_cpu_math_library_num_threads(settings.threads)
        if settings.mkldnn:
            config.enable_mkldnn()
            config.set_mkldnn_cache_capacity(10)
        else:
            config.disable_mkldnn()
    else:
        config.enable_use_gpu(settings.gpu_memory_mb, settings.gpu_id)
        if settings.trt:
            _enable_tensorrt(config, settings)
    if settings.collect_shapes:
        config.collect_shape_range_info(settings.collect_shapes)
    config.switch_ir_optim(settings.ir_optim)
    if settings.memory_optim:
        config.enable_memory_optim()
    for name in settings.deleted_passes:
        config.delete_pass(name)
    config.disable_glog_info()
    return config


PRECISIONS = ("fp32", "fp16", "int8")


def _enable_tensorrt(config, settings: PredictorSettings) -> None:
    """TensorRT as the reference systems set it: 1 GiB workspace, batch 1, subgraphs of 3+ ops."""
    import paddle.inference as pi

    precision = {"fp32": pi.PrecisionType.Float32, "fp16": pi.PrecisionType.Half,
                 "int8": pi.PrecisionType.Int8}[settings.precision]
    config.enable_tensorrt_engine(workspace_size=settings.trt_workspace, max_batch_size=1,
                                  min_subgraph_size=settings.trt_min_subgraph, precision_mode=precision,
                                  use_static=settings.trt_cache is not None, use_calib_mode=False)
    if settings.trt_cache:
        config.set_optim_cache_dir(settings.trt_cache)
    if settings.trt_dynamic_shapes:
        shapes = settings.trt_dynamic_shapes
        config.set_trt_dynamic_shape_info({k: v[0] for k, v in shapes.items()}, {k: v[2] for k, v in shapes.items()},
                                          {k: v[1] for k, v in shapes.items()})
    elif settings.trt_tuned_shapes:
        config.enable_tuned_tensorrt_dynamic_shape(settings.trt_tuned_shapes, True)


def parse_dynamic_shape(text: str) -> tuple[list[int], list[int], list[int]]:
    """`1x3x64x64:4x3x64x64:8x3x64x64` -> (min, opt, max) shapes; errors name the offending text."""
    from slimpipe.errors import fail

    parts = text.split(":")
    try:
        shapes = [[int(d) for d in part.lower().split("x")] for part in parts]
    except ValueError:
        shapes = []
    if len(parts) != 3 or not shapes or any(len(s) != len(shapes[0]) or min(s) < 1 for s in shapes):
        raise fail(f"TensorRT dynamic shape {text!r}: expected min:opt:max, each like 1x3x224x224 with the same rank")
    low, opt, high = shapes
    if not all(a <= b <= c for a, b, c in zip(low, opt, high)):
        raise fail(f"TensorRT dynamic shape {text!r}: need min <= opt <= max in every dimension")
    return low, opt, high


def gpu_unavailable_reason(trt: bool) -> str | None:
    """Why a GPU benchmark cannot run here, or None: no CUDA build, no visible GPU, or no TensorRT."""
    import paddle

    if not paddle.is_compiled_with_cuda():
        return "this Paddle build has no CUDA support (install paddlepaddle-gpu, as in images/gpu)"
    if paddle.device.cuda.device_count() == 0:
        return "no GPU is visible to this process (check CUDA_VISIBLE_DEVICES and the node's nvidia.com/gpu)"
    if trt:
        import paddle.inference as pi

        if tuple(pi.get_trt_runtime_version()) == (0, 0, 0):
            return "TensorRT cannot be loaded (libnvinfer not found on the library path)"
    return None


class Predictor:
    """A created predictor with a list-of-arrays in, array out interface (a tuple of arrays for models with
    several outputs, such as a detector's boxes and boxes per image)."""

    def __init__(self, config=None, *, created=None):
        """From a paddle.inference.Config, or wrapping an already `created` paddle predictor."""
        import paddle.inference as pi

        self._p = created if created is not None else pi.create_predictor(config)
        self._inputs = [self._p.get_input_handle(n) for n in self._p.get_input_names()]
        self._outputs = [self._p.get_output_handle(n) for n in self._p.get_output_names()]

    @property
    def input_names(self) -> list[str]:
        return list(self._p.get_input_names())

    @property
    def output_names(self) -> list[str]:
        return list(self._p.get_output_names())

    def feed(self, arrays: list[np.ndarray]) -> None:
        for handle, array in zip(self._inputs, arrays):
            handle.reshape(list(array.shape))
            handle.copy_from_cpu(np.ascontiguousarray(array))

    def run(self) -> None:
        self._p.run()

    def clone(self) -> "Predictor":
        """A predictor on this one's optimized program and parameter scope (no passes run again, about 2 ms)
        with its own run state: oneDNN keeps reordered weights per predictor after its first run, so only a
        predictor that has not run yet sees parameters written into the scope since."""
        return Predictor(created=self._p.clone())

    def tensor(self, name: str):
        """The handle of any variable in the predictor's scope, parameters included (Paddle Inference looks
        input handles up by name in the scope), so a parameter can be read or overwritten in place."""
        return self._p.get_input_handle(name)

    def output(self) -> np.ndarray | tuple[np.ndarray, ...]:
        if len(self._outputs) == 1:
            return self._outputs[0].copy_to_cpu()
        return tuple(o.copy_to_cpu() for o in self._outputs)

    def __call__(self, arrays: list[np.ndarray]) -> np.ndarray | tuple[np.ndarray, ...]:
        self.feed(arrays)
        self.run()
        return self.output()
