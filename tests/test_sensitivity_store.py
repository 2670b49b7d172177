"""`sensitivity.compute` hands its results to a store and logs its plan; the stage's store is the JSON file.

These tests run the algorithm on a made-up metric (no model), so each takes milliseconds."""
from __future__ import annotations

import builtins
import copy
import json
import logging
import os

import pytest

from slimpipe.checkpoint import Checkpoint
from slimpipe.errors import SlimpipeError
from slimpipe.pruning import sensitivity as sens
from slimpipe.stages.sensitivity import SensitivityFile

LAYERS = ["a", "b"]
BASELINE = 0.9
HEADER = {"task": "classification", "arch": "mobilenetv2", "fingerprint": "f", "metric": "accuracy",
          "criterion": "l1_norm", "layers": {"a": 8, "b": 8}, "all_layers": {"a": 8, "b": 8}, "shard": None,
          "stop_loss": None, "in_place_evaluation": True, "folded_evaluation": True, "subset": None}


class MemoryStore:
    """A SensitivityStore that keeps copies of what it is given, as an object-store checkpoint would."""

    where = "memory"

    def __init__(self, earlier=None):
        self.earlier, self.calls, self.saved = earlier, [], None

    def load(self):
        return copy.deepcopy(self.earlier)

    def start(self, data, todo):
        self.calls.append(("start", todo))

    def record(self, data, layer, ratio, loss, capped):
        self.calls.append(("record", layer, ratio, round(loss, 6), capped))
        self.saved = copy.deepcopy(data)

    def finish(self, data):
        self.calls.append(("finish",))
        self.saved = copy.deepcopy(data)


def metric(layer: str, ratio: float) -> float:
    """Layer b loses more than layer a; both lose more at larger ratios."""
    return BASELINE - ratio * (0.5 if layer == "b" else 0.1)


class Counting:
    def __init__(self):
        self.asked = []

    def __call__(self, layer, ratio):
        self.asked.append((layer, ratio))
        return metric(layer, ratio)


def run(store, ratios=(0.3, 0.6), header=HEADER, evaluate=metric):
    return sens.compute(store, dict(header), LAYERS, list(ratios), BASELINE, evaluate)


def loss(layer, ratio):
    return round(sens.relative_loss(BASELINE, metric(layer, ratio)), 6)


def test_compute_hands_every_result_to_the_store_in_order():
    store = MemoryStore()
    data = run(store)
    assert store.calls == [("start", 4), *[("record", layer, r, loss(layer, r), False)
                                           for layer in LAYERS for r in (0.3, 0.6)], ("finish",)]
    assert store.saved == data and data["complete"] and data["evaluations"] == 4
    assert data["sensitivities"]["b"]["0.6"] == pytest.approx(sens.relative_loss(BASELINE, metric("b", 0.6)))


def test_compute_does_no_file_io(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError(f"file I/O: {args}")

    for module, name in ((builtins, "open"), (os, "replace"), (os, "rename"), (os, "open")):
        monkeypatch.setattr(module, name, refuse)
    data = run(MemoryStore())
    monkeypatch.undo()
    assert data["complete"] and list(tmp_path.iterdir()) == []


def test_compute_resumes_from_the_store_and_evaluates_only_what_is_missing():
    first = MemoryStore()
    run(first, ratios=(0.3,))
    evaluate = Counting()
    data = run(MemoryStore(earlier=first.saved), ratios=(0.3, 0.6), evaluate=evaluate)
    assert evaluate.asked == [("a", 0.6), ("b", 0.6)]
    assert data["evaluations"] == 4 and data["ratios"] == [0.3, 0.6] and data["complete"]


def test_a_stored_record_of_another_analysis_is_refused_naming_the_store():
    first = MemoryStore()
    run(first)
    with pytest.raises(SlimpipeError, match=r"^memory: cannot resume: its criterion is 'l1_norm', "
                                            r"this run's is 'fpgm'"):
        run(MemoryStore(earlier=first.saved), header={**HEADER, "criterion": "fpgm"})


def test_early_stop_records_the_cap_as_capped_without_evaluating():
    store, evaluate = MemoryStore(), Counting()
    cap = 0.1  # b at 0.3 loses about 0.17: its 0.6 is capped; a at 0.6 loses about 0.07: measured
    data = run(store, header={**HEADER, "stop_loss": cap}, evaluate=evaluate)
    assert ("b", 0.6) not in evaluate.asked and ("record", "b", 0.6, cap, True) in store.calls
    assert data["capped"] == {"b": ["0.6"]} and data["sensitivities"]["b"]["0.6"] == cap


def test_the_plan_is_logged_by_the_module_logger_and_shown_as_a_stage_line(capsys):
    seen = []
    handler = logging.Handler()
    handler.emit = seen.append
    sens.logger.addHandler(handler)
    try:
        run(MemoryStore())
    finally:
        sens.logger.removeHandler(handler)
    plan = "2 layers x 2 ratios: 4 evaluations at most, 0 already in memory"
    assert [r.getMessage() for r in seen] == [plan] and seen[0].name == "slimpipe.pruning.sensitivity"
    out, err = capsys.readouterr()
    # other lines may reach the captured streams from threads earlier tests left (seen: kfp.local's indentation)
    assert plan not in out and err.count(plan) == 1 and f"[sensitivity] {plan}\n" in err


def test_a_log_record_may_name_its_stage(capsys):
    logging.getLogger("slimpipe.pruning.anything").info("hello %s", "there", extra={"stage": "sweep"})
    assert capsys.readouterr().err == "[sweep] hello there\n"


def test_the_file_store_holds_each_result_once_recorded_and_resumes(tmp_path, capsys):
    path = tmp_path / "s.json"
    store = SensitivityFile(path)
    seen = []
    store_record = store.record

    def record(data, *args, **kwargs):
        store_record(data, *args, **kwargs)
        seen.append(json.loads(path.read_text())["sensitivities"])

    store.record = record
    data = run(store, ratios=(0.3,))
    assert [sum(map(len, s.values())) for s in seen] == [1, 2]  # on disk after every evaluation
    assert json.loads(path.read_text()) == data and sens.read(path)["complete"]
    assert "[sensitivity] [####################] 2/2 (100%)" in capsys.readouterr().err
    evaluate = Counting()
    run(SensitivityFile(path), ratios=(0.3, 0.6), evaluate=evaluate)
    assert evaluate.asked == [("a", 0.6), ("b", 0.6)] and sens.read(path)["evaluations"] == 4


def test_the_file_store_copies_the_finished_file_to_its_checkpoint(tmp_path):
    path, kept = tmp_path / "s.json", tmp_path / "ckpt.json"
    run(SensitivityFile(path, Checkpoint(str(kept), every_s=3600)))
    assert kept.read_bytes() == path.read_bytes() and json.loads(kept.read_text())["complete"]


class Shuffled:
    """An EvaluationPool of `size` that finishes pairs newest first (as parallel workers may), and records what
    was in flight whenever a pair was submitted."""

    def __init__(self, size):
        self.size, self.waiting, self.flights = size, [], []

    def submit(self, layer, ratio):
        self.waiting.append((layer, ratio))
        self.flights.append(list(self.waiting))

    def result(self):
        layer, ratio = self.waiting.pop()
        return layer, ratio, metric(layer, ratio)


def test_a_pool_fills_every_slot_and_its_results_are_stored_as_a_sequential_run_stores_them():
    pool = Shuffled(3)
    data = run(MemoryStore(), ratios=(0.2, 0.4, 0.6), evaluate=pool)
    sequential = run(MemoryStore(), ratios=(0.2, 0.4, 0.6))
    assert max(len(f) for f in pool.flights) == 3
    assert json.dumps(data["sensitivities"]) == json.dumps(sequential["sensitivities"])  # same values, same order
    assert data["evaluations"] == 6 and data["complete"]


def test_with_early_stop_a_pool_keeps_one_pair_of_a_layer_in_flight_and_never_evaluates_a_capped_one():
    pool = Shuffled(2)
    header = dict(HEADER, stop_loss=0.2)  # b reaches 0.2 at ratio 0.4: 0.6 and 0.8 are capped
    data = run(MemoryStore(), ratios=(0.2, 0.4, 0.6, 0.8), header=header, evaluate=pool)
    assert all(len({layer for layer, _ in f}) == len(f) for f in pool.flights)
    asked = [pair for f in pool.flights for pair in f[-1:]]
    assert ("b", 0.6) not in asked and ("b", 0.8) not in asked
    assert data["capped"] == {"b": ["0.6", "0.8"]} and data["evaluations"] == 6
