"""Each stage on the tiny dataset, through the command line, reading and writing files only."""
import json

import numpy as np
import pytest

from slimpipe import modeldir
from slimpipe.cli import main


def test_train_writes_a_self_describing_model_directory(tiny_model):
    info = modeldir.read_info(tiny_model)
    assert info.arch == "mobilenetv2" and info.task == "classification"
    assert info.classes == [str(i) for i in range(10)] and info.input_size == [32, 32]
    assert info.pruning is None
    assert 0.0 <= info.metrics["accuracy"] <= 1.0 and info.metrics["epoch"] in (0, 1)
    assert info.stats["flops"] > 0 and info.stats["params"] > 0
    for name in ("weights.npz", "inference/model.pdmodel", "inference/model.pdiparams"):
        assert (tiny_model / name).is_file()


def test_model_directory_round_trips_weights(tiny_model, tiny_dataset):
    from slimpipe.evaluation import dygraph_forward, evaluate
    from slimpipe.stages.common import load_split_for
    from slimpipe.tasks import get_task

    net, info = modeldir.load(tiny_model)
    val = load_split_for(info, tiny_dataset, "val")
    again = evaluate(dygraph_forward(net), get_task(info.task), val)["accuracy"]
    assert again == pytest.approx(info.metrics["accuracy"])


def test_sensitivity_file_is_json_with_every_layer_and_ratio(tiny_sensitivities):
    data = json.loads(tiny_sensitivities.read_text())
    assert data["metric"] == "accuracy" and data["criterion"] == "l1_norm" and data["complete"]
    assert len(data["sensitivities"]) == len(data["layers"]) > 5
    for losses in data["sensitivities"].values():
        assert set(losses) == {"0.3", "0.6"}
    assert data["evaluations"] == 2 * len(data["layers"])


def test_visualize_writes_the_curve_the_plot_and_a_self_contained_page(tiny_model, tiny_sensitivities, tmp_path,
                                                                       capsys):
    out = tmp_path / "vis"
    assert main(["visualize", "--model", str(tiny_model), "--sensitivities", str(tiny_sensitivities),
                 "--out", str(out)]) == 0
    curve = json.loads((out / "curve.json").read_text())["curve"]
    assert [p["eval_metric_loss"] for p in curve] == pytest.approx([0.05 * i for i in range(1, 20)])
    pruned = [p["pruned_params"] for p in curve]
    assert pruned == sorted(pruned) and 0.0 <= pruned[0] and pruned[-1] < 1.0
    assert (out / "sensitivities.png").read_bytes()[:4] == b"\x89PNG"
    page = (out / "index.html").read_text()
    assert "data:image/png;base64," in page and "<script" not in page
    assert "When eval_metric_loss is set to 0.05, the model is pruned by" in capsys.readouterr().out


@pytest.fixture(scope="module")
def graded_sensitivities(tiny_sensitivities, tmp_path_factory):
    """The tiny model is near chance, so its measured losses are flat; grade them by hand, layer by layer,
    so that a FLOPs target lands between "nothing" and "everything"."""
    data = json.loads(tiny_sensitivities.read_text())
    layers = list(data["sensitivities"])
    for i, layer in enumerate(layers):
        steep = 0.05 + 0.5 * i / len(layers)
        data["sensitivities"][layer] = {r: steep * float(r) for r in ("0.3", "0.6")}
    path = tmp_path_factory.mktemp("graded") / "graded.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def pruned_model(tiny_model, tiny_dataset, graded_sensitivities, tmp_path_factory):
    out = tmp_path_factory.mktemp("pruned") / "pruned"
    code = main(["prune-train", "--model", str(tiny_model), "--dataset", str(tiny_dataset), "--sensitivities",
                 str(graded_sensitivities), "--pruned-flops", "0.3", "--epochs", "1", "--out", str(out)])
    assert code == 0
    return out


def test_prune_train_removes_flops_and_records_the_plan(pruned_model, tiny_model):
    base, pruned = modeldir.read_info(tiny_model), modeldir.read_info(pruned_model)
    assert pruned.pruning["ratios"] and pruned.pruning["criterion"] == "l1_norm"
    assert pruned.stats["flops"] < base.stats["flops"] and pruned.stats["params"] < base.stats["params"]
    assert pruned.pruning["pruned_flops"] == pytest.approx(0.3, abs=0.1)


def test_pruned_model_reloads_from_its_plan_and_weights(pruned_model):
    net, info = modeldir.load(pruned_model)
    out = net(__import__("paddle").to_tensor(np.zeros((2, 3, 32, 32), np.float32)))
    assert list(out.shape) == [2, 10]


def test_benchmark_reports_latency_size_and_metric_through_the_predictor(pruned_model, tiny_dataset, tmp_path):
    out = tmp_path / "b.json"
    assert main(["benchmark", "--model", str(pruned_model), "--dataset", str(tiny_dataset), "--warmup", "2",
                 "--repeats", "5", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["mkldnn"] is False and result["device"] == "cpu"
    lat = result["latency_ms"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] and lat["mean"] > 0
    assert result["param_file_bytes"] == (pruned_model / "inference/model.pdiparams").stat().st_size
    info = modeldir.read_info(pruned_model)
    assert result["metric_value"] == pytest.approx(info.metrics["accuracy"], abs=1e-6)


def test_report_is_the_source_documents_table(tiny_model, pruned_model, tiny_dataset, tmp_path, capsys):
    paths = {}
    for name, model in (("base", tiny_model), ("pruned", pruned_model)):
        paths[name] = tmp_path / f"{name}.json"
        assert main(["benchmark", "--model", str(model), "--dataset", str(tiny_dataset), "--warmup", "1",
                     "--repeats", "3", "--out", str(paths[name])]) == 0
    out = tmp_path / "report.md"
    assert main(["report", "--base", str(paths["base"]), "--pruned", str(paths["pruned"]), "--out", str(out),
                 "--chart", str(tmp_path / "report.png")]) == 0
    assert (tmp_path / "report.png").read_bytes()[:4] == b"\x89PNG"
    text = out.read_text()
    assert "| Model | Parameter file size | Prediction speed | Accuracy |" in text
    assert "| MobileNetV2 (pruned by " in text and "Speed-up:" in text


def test_malformed_architecture_options_are_refused(capsys, tiny_dataset, tmp_path):
    with pytest.raises(SystemExit):
        main(["train", "--dataset", str(tiny_dataset), "--arch-options", "scale", "--out", str(tmp_path / "m")])
    assert "architecture option 'scale': expected key=value" in capsys.readouterr().err


def test_unknown_architecture_option_is_refused(capsys, tiny_dataset, tmp_path):
    assert main(["train", "--dataset", str(tiny_dataset), "--arch-options", "depth=3", "--epochs", "1",
                 "--out", str(tmp_path / "m")]) == 2
    assert "has no option 'depth'" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_an_export_after_a_failed_trace_does_not_inherit_its_parameters(tiny_model, tmp_path):
    """Paddle records a trace's parameters under id(program) and keeps the record when the trace raises;
    export drops such records, so a later program at the same address cannot inherit them."""
    import paddle
    from paddle.jit.dy2static.program_translator import ProgramTranslator
    from paddle.static import InputSpec

    class Broken(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = paddle.nn.Linear(4, 4)

        def forward(self, x):
            self.fc(x)
            raise ValueError("broken forward")

    with pytest.raises(Exception, match="broken forward"):
        paddle.jit.save(Broken(), str(tmp_path / "broken"), input_spec=[InputSpec([None, 4], "float32", "x")])
    records = ProgramTranslator.get_instance()._params_recorder.params_dict
    assert records  # what the failed trace left behind
    net, info = modeldir.load(tiny_model)
    modeldir.export(net, tmp_path / "m", {"image": info.input_shape()[1:]})
    assert not records and (tmp_path / "m.pdmodel").is_file()
