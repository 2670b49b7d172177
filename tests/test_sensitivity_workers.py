"""`slimpipe sensitivity --workers N`: N - 1 spawned processes evaluate beside the stage's own."""
import json

import pytest

from slimpipe.errors import SlimpipeError
from slimpipe.stages.sensitivity import sensitivity
from slimpipe.stages.sensitivity_workers import ProcessPool, Setup

SETUP = Setup(model="m", dataset="d", criterion="l1_norm", threads=1, subset=None, seed=0, per_layer=9)


def test_two_workers_sharing_two_threads_measure_what_one_thread_measures(tiny_model, tiny_dataset, tmp_path):
    one = sensitivity(tiny_model, tiny_dataset, tmp_path / "one.json", ratios=[0.3, 0.6], threads=1)
    two = sensitivity(tiny_model, tiny_dataset, tmp_path / "two.json", ratios=[0.3, 0.6], threads=2, workers=2)
    assert json.dumps(two["sensitivities"]) == json.dumps(one["sensitivities"])
    assert two["complete"] and two["evaluations"] == one["evaluations"]


def test_a_worker_that_fails_to_start_is_a_clear_error():
    # len(setup) raises TypeError in the worker, as a broken model file would raise there
    with ProcessPool(2, lambda layer, ratio: 0.5, SETUP, len) as pool:
        pool.submit("a", 0.3)
        pool.submit("b", 0.3)
        with pytest.raises(SlimpipeError, match="sensitivity worker: TypeError"):
            [pool.result() for _ in range(2)]


def test_a_worker_that_dies_is_named_in_the_error():
    with ProcessPool(2, lambda layer, ratio: 0.5, SETUP, len) as pool:
        pool.processes[0].terminate()  # before it has started its interpreter
        pool.processes[0].join()
        pool.submit("a", 0.3)
        pool.submit("b", 0.3)
        with pytest.raises(SlimpipeError, match="sensitivity-worker-1 stopped"):
            [pool.result() for _ in range(2)]


def test_workers_below_one_are_refused(tiny_model, tiny_dataset, tmp_path):
    with pytest.raises(SlimpipeError, match="workers 0"):
        sensitivity(tiny_model, tiny_dataset, tmp_path / "s.json", workers=0)
    assert not (tmp_path / "s.json").exists()
