"""Which Paddle Inference settings each benchmark configuration makes, and why a GPU run cannot happen."""
import pytest

from slimpipe.inference import PredictorSettings, apply_settings, gpu_unavailable_reason


class RecordingConfig:
    """Stands in for paddle.inference.Config and records every call (a CPU build refuses GPU settings)."""

    def __init__(self):
        self.calls = {}

    def __getattr__(self, name):
        def record(*args, **kwargs):
            self.calls[name] = (args, kwargs)

        return record


def settings_of(**kwargs) -> dict:
    return apply_settings(RecordingConfig(), PredictorSettings(**kwargs)).calls


def test_cpu_default_is_the_source_documents_setting():
    calls = settings_of()
    assert "disable_gpu" in calls and "disable_mkldnn" in calls and "enable_mkldnn" not in calls
    assert calls["set_cpu_math_library_num_threads"] == ((1,), {})
    assert calls["switch_ir_optim"] == ((True,), {}) and "enable_memory_optim" in calls


def test_cpu_with_mkldnn_sets_the_cache_capacity():
    calls = settings_of(mkldnn=True, threads=4)
    assert "enable_mkldnn" in calls and calls["set_mkldnn_cache_capacity"] == ((10,), {})
    assert calls["set_cpu_math_library_num_threads"] == ((4,), {})


def test_gpu_without_tensorrt_is_plain_cuda():
    calls = settings_of(device="gpu")
    assert calls["enable_use_gpu"] == ((256, 0), {})
    assert "enable_tensorrt_engine" not in calls and "disable_gpu" not in calls


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_tensorrt_settings_follow_the_reference_systems(precision):
    import paddle.inference as pi

    calls = settings_of(device="gpu", trt=True, precision=precision)
    _, trt = calls["enable_tensorrt_engine"]
    expected = {"fp32": pi.PrecisionType.Float32, "fp16": pi.PrecisionType.Half, "int8": pi.PrecisionType.Int8}
    assert trt == {"workspace_size": 1 << 30, "max_batch_size": 1, "min_subgraph_size": 3,
                   "precision_mode": expected[precision], "use_static": False, "use_calib_mode": False}
    assert "set_optim_cache_dir" not in calls


def test_tensorrt_engine_cache_makes_the_engine_static():
    calls = settings_of(device="gpu", trt=True, trt_cache="/cache/trt")
    assert calls["enable_tensorrt_engine"][1]["use_static"] is True
    assert calls["set_optim_cache_dir"] == (("/cache/trt",), {})


def test_reason_no_cuda_build(monkeypatch):
    import paddle

    monkeypatch.setattr(paddle, "is_compiled_with_cuda", lambda: False)
    assert "no CUDA support" in gpu_unavailable_reason(trt=True)


def test_reason_no_visible_gpu(monkeypatch):
    import paddle

    monkeypatch.setattr(paddle, "is_compiled_with_cuda", lambda: True)
    monkeypatch.setattr(paddle.device.cuda, "device_count", lambda: 0)
    assert "no GPU is visible" in gpu_unavailable_reason(trt=True)


def test_reason_no_tensorrt(monkeypatch):
    import paddle
    import paddle.inference as pi

    monkeypatch.setattr(paddle, "is_compiled_with_cuda", lambda: True)
    monkeypatch.setattr(paddle.device.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(pi, "get_trt_runtime_version", lambda: (0, 0, 0))
    assert "TensorRT cannot be loaded" in gpu_unavailable_reason(trt=True)
    assert gpu_unavailable_reason(trt=False) is None


def test_tensorrt_dynamic_shapes_are_given_as_min_max_opt():
    shapes = {"image": ([1, 3, 64, 64], [2, 3, 64, 64], [4, 3, 64, 64])}
    calls = settings_of(device="gpu", trt=True, trt_dynamic_shapes=shapes)
    assert calls["set_trt_dynamic_shape_info"] == (({"image": [1, 3, 64, 64]}, {"image": [4, 3, 64, 64]},
                                                    {"image": [2, 3, 64, 64]}), {})
    assert "enable_tuned_tensorrt_dynamic_shape" not in calls


def test_tensorrt_tuned_shapes_are_read_from_the_shape_file():
    calls = settings_of(device="gpu", trt=True, trt_tuned_shapes="/tmp/shapes.pbtxt")
    assert calls["enable_tuned_tensorrt_dynamic_shape"] == (("/tmp/shapes.pbtxt", True), {})
    assert "set_trt_dynamic_shape_info" not in calls


def test_the_tuning_run_collects_shapes_without_tensorrt():
    calls = settings_of(device="gpu", collect_shapes="/tmp/shapes.pbtxt")
    assert calls["collect_shape_range_info"] == (("/tmp/shapes.pbtxt",), {})
    assert "enable_tensorrt_engine" not in calls


def test_dynamic_shape_text_is_parsed_and_checked():
    from slimpipe.errors import SlimpipeError
    from slimpipe.inference import parse_dynamic_shape

    assert parse_dynamic_shape("1x3x64x64:2x3x64x64:4x3x64x64") == ([1, 3, 64, 64], [2, 3, 64, 64], [4, 3, 64, 64])
    for bad in ("1x3x64x64:4x3x64x64", "1x3x64:1x3x64x64:1x3x64x64", "4x3x64x64:1x3x64x64:8x3x64x64", "ax3:1:1"):
        with pytest.raises(SlimpipeError, match="TensorRT dynamic shape"):
            parse_dynamic_shape(bad)


def test_dynamic_shape_must_cover_the_benchmarked_input(tiny_model):
    from slimpipe import modeldir
    from slimpipe.errors import SlimpipeError
    from slimpipe.stages.benchmark import dynamic_shapes
    from slimpipe.tasks import get_task

    info = modeldir.read_info(tiny_model)
    task = get_task(info.task)
    ok = dynamic_shapes(task, info, "1x3x32x32:1x3x32x32:8x3x32x32", batch_size=4)
    assert ok == {"image": ([1, 3, 32, 32], [1, 3, 32, 32], [8, 3, 32, 32])}
    with pytest.raises(SlimpipeError, match="does not cover the benchmark's input 4x3x32x32"):
        dynamic_shapes(task, info, "1x3x32x32:1x3x32x32:2x3x32x32", batch_size=4)


def test_shape_tuning_writes_the_shape_range_file(tiny_model, tiny_dataset, tmp_path):
    """The tuning pass is real Paddle Inference (run here on CPU: collection does not need TensorRT)."""
    import numpy as np

    from slimpipe import modeldir
    from slimpipe.stages.benchmark import tune_shapes
    from slimpipe.stages.common import load_split_for
    from slimpipe.tasks import get_task

    info = modeldir.read_info(tiny_model)
    task, val = get_task(info.task), load_split_for(info, tiny_dataset, "val")
    shape_file = tmp_path / "shapes.pbtxt"
    tune_shapes(*modeldir.inference_paths(tiny_model), PredictorSettings(collect_shapes=str(shape_file)), task,
                val, 16, task.feeds(val, np.arange(1)))
    text = shape_file.read_text()
    assert "image" in text and "min_shape: 1" in text and "max_shape: 16" in text


@pytest.mark.parametrize("flags, message", [
    (["--device", "gpu", "--trt-tune-shapes"], "need --trt"),
    (["--device", "gpu", "--trt", "--batch-size", "4"], "needs --trt-dynamic-shape or --trt-tune-shapes"),
])
def test_tensorrt_shape_options_are_checked_before_any_work(capsys, tiny_model, tiny_dataset, tmp_path, flags, message):
    from slimpipe.cli import main

    assert main(["benchmark", "--model", str(tiny_model), "--dataset", str(tiny_dataset), *flags,
                 "--out", str(tmp_path / "b.json")]) == 2
    assert message in capsys.readouterr().err


def test_gpu_benchmark_command_fails_with_the_reason_here(capsys, tiny_model, tiny_dataset, tmp_path):
    from slimpipe.cli import main

    if gpu_unavailable_reason(trt=True) is None:
        pytest.skip("a usable GPU is present; the failure path is not reachable here")
    assert main(["benchmark", "--model", str(tiny_model), "--dataset", str(tiny_dataset), "--device", "gpu",
                 "--trt", "--out", str(tmp_path / "b.json")]) == 2
    assert "GPU benchmark not possible: this Paddle build has no CUDA support" in capsys.readouterr().err
    assert not (tmp_path / "b.json").exists()


@pytest.mark.gpu
def test_real_tensorrt_benchmark(tiny_model, tiny_dataset, tmp_path):
    reason = gpu_unavailable_reason(trt=True)
    if reason:
        pytest.skip(f"GPU + TensorRT benchmark not possible here: {reason}")
    from slimpipe.stages.benchmark import benchmark

    result = benchmark(tiny_model, tiny_dataset, tmp_path / "b.json", device="gpu", trt=True, warmup=2, repeats=5)
    assert result.measured and result.latency_mean_ms > 0


def test_deleted_passes_are_left_out_of_the_pass_list():
    import paddle.inference as pi

    settings = PredictorSettings(mkldnn=True, deleted_passes=("conv_bn_fuse_pass", "constant_folding_pass"))
    config = pi.Config("model.pdmodel", "model.pdiparams")  # the files are read only when a predictor is made
    passes = apply_settings(config, settings).pass_builder().all_passes()
    assert "conv_bn_fuse_pass" not in passes and "constant_folding_pass" not in passes
    assert "conv_activation_mkldnn_fuse_pass" in passes
