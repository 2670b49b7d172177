"""Bad input to a stage: a clear message naming the culprit, exit status 2, nothing at the output path."""
import json

import pytest

from slimpipe.cli import main


def run_fails(capsys, argv, message):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err, err
    return err


def test_missing_dataset_folder(capsys, tmp_path):
    run_fails(capsys, ["train", "--dataset", str(tmp_path / "nope"), "--out", str(tmp_path / "m")],
              "dataset folder not found")
    assert not (tmp_path / "m").exists()


def test_training_on_a_broken_dataset_writes_no_model(capsys, dataset_copy, tmp_path):
    (dataset_copy / "val_list.txt").write_text("images/0/missing.png 0\n")
    run_fails(capsys, ["train", "--dataset", str(dataset_copy), "--epochs", "1", "--input-size", "32",
                       "--out", str(tmp_path / "m")], "val_list.txt:1: file not found")
    assert not (tmp_path / "m").exists()


def test_eval_metric_loss_outside_unit_interval(capsys, tiny_model, tiny_dataset, tiny_sensitivities, tmp_path):
    run_fails(capsys, ["prune-train", "--model", str(tiny_model), "--dataset", str(tiny_dataset),
                       "--sensitivities", str(tiny_sensitivities), "--eval-metric-loss", "1.5",
                       "--out", str(tmp_path / "p")], "eval_metric_loss 1.5 is outside (0, 1)")
    assert not (tmp_path / "p").exists()


def test_both_eval_metric_loss_and_pruned_flops_are_refused(capsys, tiny_model, tiny_dataset,
                                                          tiny_sensitivities, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["prune-train", "--model", str(tiny_model), "--dataset", str(tiny_dataset), "--sensitivities",
              str(tiny_sensitivities), "--eval-metric-loss", "0.05", "--pruned-flops", "0.5",
              "--out", str(tmp_path / "p")])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_sensitivities_from_another_model(capsys, tiny_model, tiny_dataset, tiny_sensitivities, tmp_path):
    data = json.loads(tiny_sensitivities.read_text())
    data["arch"], data["fingerprint"] = "mobilenetv2", "0123456789abcdef"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data))
    run_fails(capsys, ["prune-train", "--model", str(tiny_model), "--dataset", str(tiny_dataset),
                       "--sensitivities", str(other), "--eval-metric-loss", "0.05", "--out", str(tmp_path / "p")],
              "sensitivities were computed for another model")
    assert not (tmp_path / "p").exists()


def test_pickled_sensitivities_are_refused_not_unpickled(capsys, tiny_model, tiny_dataset, tmp_path):
    import pickle

    bad = tmp_path / "model.sensi.data"
    bad.write_bytes(pickle.dumps({"conv2d_0.w_0": {0.1: 0.0}}))
    run_fails(capsys, ["prune-train", "--model", str(tiny_model), "--dataset", str(tiny_dataset),
                       "--sensitivities", str(bad), "--eval-metric-loss", "0.05", "--out", str(tmp_path / "p")],
              "not valid JSON")


def test_ratio_that_removes_every_channel(capsys, tiny_model, tiny_dataset, tiny_sensitivities, tmp_path):
    data = json.loads(tiny_sensitivities.read_text())
    layer = next(iter(data["sensitivities"]))
    data["sensitivities"][layer] = {"0.3": 0.0, "0.6": 0.0, "0.99": 0.0}
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data))
    run_fails(capsys, ["prune-train", "--model", str(tiny_model), "--dataset", str(tiny_dataset),
                       "--sensitivities", str(edited), "--eval-metric-loss", "0.05", "--out", str(tmp_path / "p")],
              f"would remove every channel of layer {layer!r}")
    assert not (tmp_path / "p").exists()


def test_incomplete_sensitivities_are_refused(capsys, tiny_model, tiny_dataset, tiny_sensitivities, tmp_path):
    data = json.loads(tiny_sensitivities.read_text())
    data["complete"] = False
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(data))
    run_fails(capsys, ["visualize", "--model", str(tiny_model), "--sensitivities", str(partial),
                       "--out", str(tmp_path / "v")], "incomplete")


def test_ratios_outside_unit_interval(capsys, tiny_model, tiny_dataset, tmp_path):
    run_fails(capsys, ["sensitivity", "--model", str(tiny_model), "--dataset", str(tiny_dataset),
                       "--ratios", "0.5,1.0", "--out", str(tmp_path / "s.json")], "every ratio must be in (0, 1)")
    assert not (tmp_path / "s.json").exists()


def test_not_a_model_directory(capsys, tiny_dataset, tmp_path):
    (tmp_path / "folder").mkdir()
    run_fails(capsys, ["benchmark", "--model", str(tmp_path / "folder"), "--dataset", str(tiny_dataset),
                       "--out", str(tmp_path / "b.json")], "is not a slimpipe model directory")
