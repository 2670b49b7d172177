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
    assert result["measured"] and result["latency_ms"]["mean"] > 0
