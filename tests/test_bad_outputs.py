"""Output paths never destroy anything (slimpipe.atomic.claim): each case exits 2 with the reason, before any
work, and leaves the workspace exactly as it was."""
import json
import shutil

import pytest

from tests.badinput import Case, check


def _folder_with_notes(w, name="notes"):
    (w.path(name)).mkdir()
    (w.path(name, "todo.txt")).write_text("my own file\n")


def _file(w, name="notes.txt", text="my own file\n"):
    w.path(name).write_text(text)


def _nest_dataset(w):
    w.path("outer").mkdir()
    shutil.move(w.data, w.path("outer", "data"))


def _link(w):
    _folder_with_notes(w)
    w.path("link").symlink_to(w.path("notes"))


def _model_copy(w):
    shutil.copytree(w.model, w.path("other"))


def _benchmarks(w):
    for name in ("base.json", "pruned.json"):
        w.path(name).write_text(json.dumps({"format": "slimpipe.benchmark/1"}))


def train(w, out, *extra):
    return ["train", "--dataset", w.data, "--epochs", "1", "--input-size", "32", "--out", out, *extra]


def prune(w, out):
    return ["prune-train", "--model", w.model, "--dataset", w.data, "--sensitivities", w.sens,
            "--eval-metric-loss", "0.05", "--epochs", "1", "--out", out]


def sens(w, out):
    return ["sensitivity", "--model", w.model, "--dataset", w.data, "--ratios", "0.5", "--out", out]


def bench(w, out):
    return ["benchmark", "--model", w.model, "--dataset", w.data, "--repeats", "1", "--out", out]


def report(w, out, *extra):
    return ["report", "--base", w.path("base.json"), "--pruned", w.path("pruned.json"), "--out", out, *extra]


CASES = [
    Case("train-out-is-the-dataset", lambda w: train(w, w.data), "output is the dataset"),
    Case("train-out-inside-the-dataset", lambda w: train(w, w.path("data", "model")),
         "output lies inside the dataset"),
    Case("train-out-holds-the-dataset", lambda w: ["train", "--dataset", w.path("outer", "data"), "--epochs", "1",
                                                   "--out", w.path("outer")],
         "output would contain the dataset", setup=_nest_dataset),
    Case("train-out-is-an-unrelated-folder", lambda w: train(w, w.path("notes")),
         "is not an earlier output of train", setup=_folder_with_notes),
    Case("train-out-is-a-file", lambda w: train(w, w.path("notes.txt")), "is a file", setup=_file),
    Case("train-out-dot", lambda w: train(w, "."), "would replace the working directory"),
    Case("train-out-dot-dot", lambda w: train(w, ".."), "would replace the working directory"),
    Case("train-out-is-a-symlink", lambda w: train(w, w.path("link")), "is a symbolic link", setup=_link),
    Case("train-out-under-a-file", lambda w: train(w, w.path("notes.txt", "model")), "is a file, not a folder",
         setup=_file),
    Case("train-out-empty", lambda w: train(w, ""), "output path is empty"),
    Case("train-out-not-writable", lambda w: train(w, "/sys/slimpipe-model"), "cannot write in /sys"),
    Case("visualize-out-is-the-model", lambda w: ["visualize", "--model", w.model, "--sensitivities", w.sens,
                                                  "--out", w.model], "output is the model"),
    Case("visualize-out-inside-the-model", lambda w: ["visualize", "--model", w.model, "--sensitivities", w.sens,
                                                      "--out", w.path("model", "plots")],
         "output lies inside the model"),
    Case("visualize-out-is-a-file", lambda w: ["visualize", "--model", w.model, "--sensitivities", w.sens,
                                               "--out", w.path("notes.txt")], "is a file", setup=_file),
    Case("prune-train-out-is-the-model", lambda w: prune(w, w.model), "output is the model"),
    Case("prune-train-out-is-the-dataset", lambda w: prune(w, w.data), "output is the dataset"),
    Case("prune-train-out-is-the-sensitivities", lambda w: prune(w, w.sens), "output is the sensitivities"),
    Case("prune-train-out-is-another-stage-output", lambda w: prune(w, w.path("other")),
         "is not an earlier output of prune-train", setup=_model_copy),
    Case("sensitivity-out-is-an-unrelated-file", lambda w: sens(w, w.path("notes.txt")),
         "is not an earlier output of sensitivity", setup=_file),
    Case("sensitivity-out-is-a-folder", lambda w: sens(w, w.path("notes")), "is a folder",
         setup=_folder_with_notes),
    Case("sensitivity-out-inside-the-model", lambda w: sens(w, w.path("model", "s.json")),
         "output lies inside the model"),
    Case("sensitivity-out-is-the-labels-file", lambda w: sens(w, w.path("data", "labels.txt")),
         "output lies inside the dataset"),
    Case("benchmark-out-is-an-unrelated-json", lambda w: bench(w, w.path("notes.json")),
         "is not an earlier output of benchmark", setup=lambda w: _file(w, "notes.json", '{"mine": 1}\n')),
    Case("benchmark-out-inside-the-dataset", lambda w: bench(w, w.path("data", "b.json")),
         "output lies inside the dataset"),
    Case("report-out-is-the-base-result", lambda w: report(w, w.path("base.json")), "output is the base result",
         setup=_benchmarks),
    Case("report-chart-is-the-report", lambda w: report(w, w.path("r.md"), "--chart", w.path("r.md")),
         "output is the report", setup=_benchmarks),
    Case("report-out-is-an-unrelated-markdown", lambda w: report(w, w.path("notes.txt")),
         "is not an earlier output of report", setup=lambda w: (_benchmarks(w), _file(w))),
    Case("report-chart-is-an-unrelated-png", lambda w: report(w, w.path("r.md"), "--chart", w.path("me.png")),
         "is not an earlier output of report",
         setup=lambda w: (_benchmarks(w), w.path("me.png").write_bytes(b"\x89PNG\r\n\x1a\nnot ours"))),
    Case("merge-out-is-a-shard", lambda w: ["merge-sensitivities", w.sens, "--out", w.sens],
         "output is the shard file"),
    Case("sample-out-is-an-unrelated-folder", lambda w: ["sample", "--out", w.path("notes")],
         "is not an earlier output of sample", setup=_folder_with_notes),
    Case("sweep-out-is-a-model", lambda w: ["sweep-select", "--base", w.sens, "--results", w.sens, "--models",
                                            w.model, "--out", w.model], "output is the model"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_output(case, workspace, capsys):
    check(case, workspace, capsys)


def test_a_stage_run_again_replaces_its_own_output(workspace, capsys):
    from slimpipe.cli import main

    argv = ["visualize", "--model", workspace.model, "--sensitivities", workspace.sens, "--out", str(workspace.path("v"))]
    assert main(argv) == 0
    workspace.path("v").chmod(0o750)
    assert main(argv) == 0, capsys.readouterr().err
    assert (workspace.path("v") / "index.html").is_file()
    assert oct(workspace.path("v").stat().st_mode & 0o777) == oct(0o750)


def test_overwrite_replaces_an_unrelated_folder(workspace, capsys):
    from slimpipe.cli import main

    _folder_with_notes(workspace)
    assert main(["visualize", "--model", workspace.model, "--sensitivities", workspace.sens,
                 "--out", str(workspace.path("notes")), "--overwrite"]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in workspace.path("notes").iterdir()) == [
        ".slimpipe-output", "curve.json", "index.html", "layers.png", "sensitivities.png"]
