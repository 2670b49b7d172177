"""Nonsense numbers on the command line are refused at parse time, naming the flag and the value."""
import pytest

from tests.badinput import Case, check


def train(w, *flags):
    return ["train", "--dataset", w.data, "--input-size", "32", "--out", w.path("m"), *flags]


def prune(w, *flags):
    return ["prune-train", "--model", w.model, "--dataset", w.data, "--sensitivities", w.sens,
            "--out", w.path("p"), *flags]


def sens(w, *flags):
    return ["sensitivity", "--model", w.model, "--dataset", w.data, "--out", w.path("s.json"), *flags]


def bench(w, *flags):
    return ["benchmark", "--model", w.model, "--dataset", w.data, "--out", w.path("b.json"), *flags]


def run(w, *flags):
    return ["run", "--dataset", w.data, "--root", w.path("runs"), "--out", w.path("latest"), *flags]


CASES = [
    Case("train-epochs-zero", lambda w: train(w, "--epochs", "0"), "argument --epochs: 0: must be at least 1"),
    Case("train-epochs-negative", lambda w: train(w, "--epochs", "-3"), "argument --epochs: -3: must be at least 1"),
    Case("train-epochs-not-a-number", lambda w: train(w, "--epochs", "ten"), "'ten': expected an integer"),
    Case("train-batch-size-zero", lambda w: train(w, "--batch-size", "0"), "argument --batch-size: 0"),
    Case("train-learning-rate-nan", lambda w: train(w, "--learning-rate", "nan"),
         "argument --learning-rate: 'nan': expected a finite number"),
    Case("train-learning-rate-inf", lambda w: train(w, "--learning-rate", "inf"), "'inf': expected a finite number"),
    Case("train-learning-rate-negative", lambda w: train(w, "--learning-rate", "-0.1"), "-0.1: must be above 0"),
    Case("train-learning-rate-zero", lambda w: train(w, "--learning-rate", "0"), "0: must be above 0"),
    Case("train-seed-negative", lambda w: train(w, "--seed", "-1"), "argument --seed: -1: must be at least 0"),
    Case("train-input-size-tiny", lambda w: train(w, "--input-size", "4"), "each at least 8"),
    Case("prune-train-align-zero", lambda w: prune(w, "--eval-metric-loss", "0.05", "--align", "0"),
         "argument --align: 0: must be at least 1"),
    Case("prune-train-align-negative", lambda w: prune(w, "--eval-metric-loss", "0.05", "--align", "-8"),
         "argument --align: -8"),
    Case("prune-train-loss-nan", lambda w: prune(w, "--eval-metric-loss", "nan"),
         "argument --eval-metric-loss: 'nan': expected a finite number"),
    Case("prune-train-flops-inf", lambda w: prune(w, "--pruned-flops", "inf"), "argument --pruned-flops: 'inf'"),
    Case("prune-train-epochs-zero", lambda w: prune(w, "--eval-metric-loss", "0.05", "--epochs", "0"),
         "argument --epochs: 0"),
    Case("sensitivity-threads-zero", lambda w: sens(w, "--threads", "0"), "argument --threads: 0"),
    Case("sensitivity-threads-negative", lambda w: sens(w, "--threads", "-2"), "argument --threads: -2"),
    Case("sensitivity-subset-zero", lambda w: sens(w, "--subset", "0"), "argument --subset: 0"),
    Case("sensitivity-workers-zero", lambda w: sens(w, "--workers", "0"), "argument --workers: 0"),
    Case("sensitivity-workers-text", lambda w: sens(w, "--workers", "two"), "argument --workers: 'two'"),
    Case("sensitivity-stop-loss-nan", lambda w: sens(w, "--stop-loss", "nan"), "argument --stop-loss: 'nan'"),
    Case("sensitivity-stop-loss-negative", lambda w: sens(w, "--stop-loss", "-0.5"), "argument --stop-loss: -0.5"),
    Case("sensitivity-seed-negative", lambda w: sens(w, "--subset", "5", "--seed", "-5"), "argument --seed: -5"),
    Case("sensitivity-ratio-nan", lambda w: sens(w, "--ratios", "0.5,nan"), "every ratio must be in (0, 1)"),
    Case("benchmark-threads-negative", lambda w: bench(w, "--threads", "-1"), "argument --threads: -1"),
    Case("benchmark-repeats-zero", lambda w: bench(w, "--repeats", "0"), "argument --repeats: 0"),
    Case("benchmark-warmup-negative", lambda w: bench(w, "--warmup", "-1"), "argument --warmup: -1"),
    Case("benchmark-batch-size-zero", lambda w: bench(w, "--batch-size", "0"), "argument --batch-size: 0"),
    Case("sweep-max-drop-nan", lambda w: ["sweep-select", "--base", w.sens, "--results", w.sens, "--models", w.model,
                                          "--max-drop-points", "nan", "--out", w.path("sw")],
         "argument --max-drop-points: 'nan'"),
    Case("run-epochs-zero", lambda w: run(w, "--epochs", "0"), "argument --epochs: 0: must be at least 1"),
    Case("run-batch-size-negative", lambda w: run(w, "--batch-size", "-4"), "argument --batch-size: -4"),
    Case("run-threads-zero", lambda w: run(w, "--benchmark-threads", "0"), "argument --benchmark-threads: 0"),
    Case("run-loss-nan", lambda w: run(w, "--eval-metric-loss", "nan"), "argument --eval-metric-loss: 'nan'"),
    Case("run-shards-zero", lambda w: run(w, "--sensitivity-shards", "0"), "argument --sensitivity-shards: 0"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_number(case, workspace, capsys):
    check(case, workspace, capsys)
