"""`slimpipe ingest` and `slimpipe publish`: the pipeline's first and last steps as subcommands, to a local
folder and to an S3-protocol server on 127.0.0.1; refusals as table cases (tests/badinput.py)."""
import json
import os
from pathlib import Path

import pytest

from slimpipe import storage
from slimpipe.cli import main
from slimpipe.errors import SlimpipeError
from tests.badinput import Case, check
from tests.s3_fixtures import s3  # noqa: F401  (fixture)

BENCH = {"task": "classification", "metric": "accuracy", "params": 100, "flops": 100, "param_file_bytes": 1000,
         "arch": "mobilenetv2"}


def write_benchmarks(root: Path, base_metric: float = 0.90, pruned_metric: float = 0.895) -> None:
    """base.json and pruned.json in `root`: the pruned model 0.5 points worse and twice as fast."""
    for name, metric, latency in (("base", base_metric, 10.0), ("pruned", pruned_metric, 5.0)):
        (root / f"{name}.json").write_text(json.dumps(dict(BENCH, metric_value=metric, latency_ms={"mean": latency})))


def publish_argv(root, to, run_id, *extra):
    root = Path(root)
    return ["publish", "--to", str(to), "--run-id", run_id, "--model", str(root / "model"),
            "--base", str(root / "base.json"), "--pruned", str(root / "pruned.json"), *map(str, extra)]


# ingest -----------------------------------------------------------------------------------------------

def test_ingest_copies_a_local_dataset_and_checks_it(tiny_dataset, tmp_path, capsys):
    assert main(["ingest", "--dataset", str(tiny_dataset), "--out", str(tmp_path / "in")]) == 0
    for name in ("labels.txt", "train_list.txt", "val_list.txt"):
        assert (tmp_path / "in" / name).read_bytes() == (tiny_dataset / name).read_bytes()
    assert "data version" in capsys.readouterr().err


@pytest.fixture
def small_dataset(dataset_copy):
    """Two train and one val image per class, and no other image: a few dozen objects to upload."""
    from tests.conftest import trim_lists

    trim_lists(dataset_copy, train_per_class=2, val_per_class=1)
    listed = {line.split()[0] for name in ("train_list.txt", "val_list.txt")
              for line in (dataset_copy / name).read_text().splitlines()}
    for path in (dataset_copy / "images").rglob("*"):
        if path.is_file() and path.relative_to(dataset_copy).as_posix() not in listed:
            path.unlink()
    return dataset_copy


def test_ingest_downloads_from_object_storage_the_same_data(s3, small_dataset, tmp_path, capsys):
    store = storage.ObjectStore.from_env()
    store.ensure_bucket("datasets")
    storage.upload_tree(store, small_dataset, storage.parse_uri("s3://datasets/small"))
    assert main(["ingest", "--dataset", "s3://datasets/small", "--out", str(tmp_path / "remote")]) == 0
    assert main(["ingest", "--dataset", str(small_dataset), "--out", str(tmp_path / "local")]) == 0
    versions = [line.split("data version ")[1].split(",")[0] for line in capsys.readouterr().err.splitlines()
                if "data version" in line]
    assert len(versions) == 2 and versions[0] == versions[1]
    assert sorted(p.relative_to(tmp_path / "remote") for p in (tmp_path / "remote").rglob("*")) == \
        sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*"))


# publish ----------------------------------------------------------------------------------------------

@pytest.fixture
def results(tmp_path, tiny_model):
    """A run's results: the tiny model, two benchmarks, a report."""
    import shutil

    root = tmp_path / "results"
    shutil.copytree(tiny_model, root / "model")
    write_benchmarks(root)
    (root / "report.md").write_text("# report\n")
    return root


def test_publish_to_a_local_folder_writes_the_run_then_the_pointer(results, tmp_path):
    dest = tmp_path / "published"
    assert main(publish_argv(results, dest, "run-1", "--report", results / "report.md")) == 0
    pointer = json.loads((dest / "latest.json").read_text())
    assert pointer["run_id"] == "run-1" and pointer["gate"]["passed"]
    assert (dest / "run-1/model/model.json").read_bytes() == (results / "model/model.json").read_bytes()
    assert (dest / "run-1/report.md").is_file() and (dest / "run-1/benchmark_pruned.json").is_file()
    assert all((dest / key).is_file() for key in pointer["objects"])
    assert sorted(p.name for p in dest.iterdir()) == ["latest.json", "run-1"]  # nothing left aside


def test_publish_to_object_storage(s3, results):
    store = storage.ObjectStore.from_env()
    store.ensure_bucket("models")
    assert main(publish_argv(results, "s3://models/digits", "run-1")) == 0
    pointer = json.loads(store.get_bytes("models", "digits/latest.json"))
    assert pointer["run_id"] == "run-1"
    assert "digits/run-1/model/model.json" in pointer["objects"]
    assert all(store.exists("models", key) for key in pointer["objects"])


def test_publish_to_object_storage_refuses_a_run_id_already_there(s3, results, capsys):
    store = storage.ObjectStore.from_env()
    store.ensure_bucket("models")
    assert main(publish_argv(results, "s3://models/digits", "run-1")) == 0
    before = {key: store.get_bytes("models", key) for key, _ in store.list(storage.parse_uri("s3://models"))}
    write_benchmarks(results, pruned_metric=0.899)  # a different run under the same id
    assert main(publish_argv(results, "s3://models/digits", "run-1")) == 2
    assert "s3://models/digits/run-1: run id 'run-1' already exists" in capsys.readouterr().err
    after = {key: store.get_bytes("models", key) for key, _ in store.list(storage.parse_uri("s3://models"))}
    assert after == before


def test_publish_to_a_missing_bucket_is_refused(s3, results, capsys):
    assert main(publish_argv(results, "s3://absent/digits", "run-1")) == 2
    assert "bucket 'absent' does not exist" in capsys.readouterr().err


def test_a_run_rejected_by_the_gate_does_not_move_the_pointer(results, tmp_path):
    dest = tmp_path / "published"
    assert main(publish_argv(results, dest, "run-1")) == 0
    assert main(publish_argv(results, dest, "run-2", "--max-drop-points", "0.1")) == 0  # 0.5 points dropped
    assert json.loads((dest / "latest.json").read_text())["run_id"] == "run-1"
    assert json.loads((dest / "run-2/publish.json").read_text())["gate"]["passed"] is False


def test_a_publish_that_fails_half_way_leaves_no_run_and_the_pointer_as_it_was(results, tmp_path, monkeypatch,
                                                                                capsys):
    dest = tmp_path / "published"
    assert main(publish_argv(results, dest, "run-1")) == 0
    pointer = (dest / "latest.json").read_bytes()
    real_copy = storage.copy_local
    copies = []

    def copy_then_fail(src, target):
        copies.append(src)
        if len(copies) == 2:
            raise SlimpipeError(f"{target}: disk full (simulated)")
        real_copy(src, target)

    monkeypatch.setattr(storage, "copy_local", copy_then_fail)
    assert main(publish_argv(results, dest, "run-2")) == 2
    assert "disk full (simulated)" in capsys.readouterr().err
    assert (dest / "latest.json").read_bytes() == pointer
    assert sorted(p.name for p in dest.iterdir()) == ["latest.json", "run-1"]


# refusals ---------------------------------------------------------------------------------------------

def benchmarks(w):
    write_benchmarks(w.root)


def published_run_1(w):
    from slimpipe.stages.publish import publish, run_files

    write_benchmarks(w.root)
    files = run_files(w.model, w.path("base.json"), w.path("pruned.json"))
    publish(str(w.path("pub")), "run-1", files, w.path("base.json"), w.path("pruned.json"))


def break_val_line_3(w):
    lines = w.path("data/val_list.txt").read_text().splitlines()
    lines[2] = "images/missing.jpg " + lines[2].split()[1]
    w.path("data/val_list.txt").write_text("\n".join(lines) + "\n")


def link_outside(w):
    os.symlink(w.path("base.json"), w.path("data/notes.txt"))
    write_benchmarks(w.root)


def ingest_argv(dataset, *extra):
    return lambda w: ["ingest", "--dataset", dataset(w), "--out", w.path("ingested"), *extra]


CASES = [
    Case("ingest-missing-folder", ingest_argv(lambda w: w.path("nowhere")), "nowhere: dataset folder not found"),
    Case("ingest-val-line-names-a-missing-file", ingest_argv(lambda w: w.data),
         lambda w: f"{w.data}/val_list.txt:3: file not found: images/missing.jpg", setup=break_val_line_3),
    Case("ingest-unknown-task", ingest_argv(lambda w: w.data, "--task", "nope"), "unknown task 'nope'"),
    Case("ingest-invalid-bucket-name", ingest_argv(lambda w: "s3://My_Data/x"), "'My_Data' is not a valid bucket name"),
    Case("ingest-no-object-store-endpoint", ingest_argv(lambda w: "s3://datasets/x"), "set MINIO_ENDPOINT"),
    Case("ingest-link-leading-outside", ingest_argv(lambda w: w.data),
         lambda w: f"{w.data}/notes.txt: a symbolic link leading outside the dataset folder", setup=link_outside),
    Case("publish-run-id-with-slash", lambda w: publish_argv(w.root, w.path("pub"), "a/b"),
         "run id 'a/b': a run id is one folder name, without '/'", setup=benchmarks),
    Case("publish-run-id-dotdot", lambda w: publish_argv(w.root, w.path("pub"), ".."),
         "run id '..': '..' is not allowed", setup=benchmarks),
    Case("publish-run-id-empty", lambda w: publish_argv(w.root, w.path("pub"), ""), "run id is empty",
         setup=benchmarks),
    Case("publish-run-id-is-the-pointer", lambda w: publish_argv(w.root, w.path("pub"), "latest.json"),
         "run id 'latest.json': expected 1-128 letters", setup=benchmarks),
    Case("publish-run-id-already-published", lambda w: publish_argv(w.root, w.path("pub"), "run-1"),
         lambda w: f"{w.path('pub', 'run-1')}: run id 'run-1' already exists", setup=published_run_1),
    Case("publish-missing-model", lambda w: publish_argv(w.root, w.path("pub"), "run-1")[:5] + [
        "--model", w.path("nomodel"), "--base", w.path("base.json"), "--pruned", w.path("pruned.json")],
         "nomodel: nothing to publish as model", setup=benchmarks),
    Case("publish-missing-benchmark", lambda w: publish_argv(w.root, w.path("pub"), "run-1"),
         "base.json: nothing to publish as benchmark_base.json"),
    Case("publish-benchmark-not-a-benchmark", lambda w: publish_argv(w.root, w.path("pub"), "run-1"),
         "pruned.json: not a slimpipe benchmark result",
         setup=lambda w: (write_benchmarks(w.root), w.path("pruned.json").write_text("[1, 2]"))),
    Case("publish-missing-sensitivities", lambda w: publish_argv(w.root, w.path("pub"), "run-1", "--sensitivities",
                                                                 w.path("none.json")),
         "none.json: nothing to publish as sensitivities.json", setup=benchmarks),
    Case("publish-into-the-model", lambda w: publish_argv(w.root, w.path("model", "pub"), "run-1"),
         "output lies inside the model", setup=benchmarks),
    Case("publish-to-a-file", lambda w: publish_argv(w.root, w.path("base.json"), "run-1"),
         "base.json: is a file; publish writes run folders", setup=benchmarks),
    Case("publish-max-drop-nan", lambda w: publish_argv(w.root, w.path("pub"), "run-1", "--max-drop-points", "nan"),
         "'nan': expected a finite number", setup=benchmarks),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(case, workspace, capsys, monkeypatch):
    for name in ("MINIO_ENDPOINT", "SLIMPIPE_DEFAULT_MINIO_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    check(case, workspace, capsys)
