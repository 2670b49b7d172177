"""The sensitivities record as its consumers read it: typed fields, float ratios, the file written back as read."""
import pytest

from slimpipe import atomic
from slimpipe.errors import SlimpipeError
from slimpipe.pruning.sensitivity import FORMAT, Sensitivities

FILE = {"task": "classification", "arch": "mobilenetv2", "fingerprint": "f1", "metric": "accuracy",
        "criterion": "l1_norm", "stop_loss": 0.3, "subset": None, "shard": None, "format": FORMAT, "baseline": 0.9,
        "ratios": [0.1, 0.5], "complete": True, "sensitivities": {"conv1": {"0.1": 0.01, "0.5": 0.3}},
        "capped": {"conv1": ["0.5"]}, "evaluations": 1, "seconds_evaluating": 2.0, "seconds_per_evaluation": 2.0}


def test_the_record_holds_the_table_with_float_ratios_and_the_settings(tmp_path):
    atomic.write_json(tmp_path / "s.json", FILE)
    record = Sensitivities.read(tmp_path / "s.json")
    assert record.table == {"conv1": {0.1: 0.01, 0.5: 0.3}} and record.layers == ["conv1"]
    assert (record.metric, record.baseline, record.criterion, record.stop_loss) == ("accuracy", 0.9, "l1_norm", 0.3)
    assert record.capped == {"conv1": ["0.5"]} and record.complete


def test_the_file_is_written_back_byte_for_byte(tmp_path):
    atomic.write_json(tmp_path / "s.json", FILE)
    Sensitivities.read(tmp_path / "s.json").write(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == (tmp_path / "s.json").read_bytes()


def test_an_unfinished_analysis_is_refused_naming_the_file(tmp_path):
    atomic.write_json(tmp_path / "s.json", FILE | {"complete": False})
    with pytest.raises(SlimpipeError, match="s.json: the sensitivity analysis in this file is incomplete"):
        Sensitivities.read(tmp_path / "s.json").require_complete()


def test_sensitivities_of_another_model_are_refused(tmp_path):
    atomic.write_json(tmp_path / "s.json", FILE)
    with pytest.raises(SlimpipeError, match="computed for another model"):
        Sensitivities.read(tmp_path / "s.json").check_matches("mobilenetv2", "f2", ["conv1"])
