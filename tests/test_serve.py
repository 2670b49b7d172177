"""`slimpipe serve`: a pruned model on the Open Inference Protocol v2 through kserve's ModelServer, answering as
the benchmark's Paddle Inference predictor does, with KServe's paddle-runtime loading rules."""
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from slimpipe.local_s3 import free_port
from slimpipe.serving.client import Connection, ServerProcess, infer_body, output_arrays
from tests.badinput import Case, check
from tests.s3_fixtures import s3  # noqa: F401  (fixture)

NAME = "digits"


@pytest.fixture(scope="module")
def pruned(tiny_model, tiny_dataset, tiny_sensitivities, tmp_path_factory):
    from slimpipe.stages.prune_train import prune_train

    out = tmp_path_factory.mktemp("serve") / "pruned"
    info = prune_train(tiny_model, tiny_dataset, tiny_sensitivities, out, eval_metric_loss=0.3, epochs=1)
    assert info.pruning and info.pruning["ratios"]
    return out


@pytest.fixture(scope="module")
def server(pruned, tmp_path_factory):
    with ServerProcess(pruned, NAME, free_port(), tmp_path_factory.mktemp("serve-log") / "serve.log") as proc:
        yield proc


@pytest.fixture
def conn(server):
    connection = Connection(server.port)
    yield connection
    connection.close()


def val_feeds(model, dataset, count):
    """The model's inputs by name for the first `count` val images, as the benchmark feeds them."""
    from slimpipe import modeldir
    from slimpipe.stages.common import load_split_for
    from slimpipe.tasks import get_task

    info = modeldir.read_info(model)
    task = get_task(info.task)
    arrays = task.feeds(load_split_for(info, dataset, "val"), np.arange(count))
    return dict(zip(task.input_shapes(info.input_size), arrays))


def benchmark_predictor(model, mkldnn=True):
    """The benchmark's predictor (slimpipe.inference) on the same files, with serve's default settings."""
    from slimpipe import modeldir
    from slimpipe.inference import PredictorSettings, open_predictor

    return open_predictor(*modeldir.inference_paths(model), PredictorSettings(mkldnn=mkldnn, threads=1))


def benchmark_outputs(model, feeds, mkldnn=True):
    out = benchmark_predictor(model, mkldnn)(list(feeds.values()))
    return list(out) if isinstance(out, tuple) else [out]


def test_parsing_any_subcommand_never_imports_kserve():
    code = ("import sys; from slimpipe.cli import build_parser; "
            "build_parser('serve').parse_args(['serve', '--model', 'm', '--name', 'n']); "
            "build_parser(None).parse_args(['sensitivity', '--model', 'm', '--dataset', 'd', '--out', 'o']); "
            "print('kserve' in sys.modules, 'paddle' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_without_kserve_the_error_names_the_extra(tiny_model, monkeypatch, capsys):
    from slimpipe.cli import main

    monkeypatch.setitem(sys.modules, "kserve", None)  # `import kserve` raises ImportError
    code = main(["serve", "--model", str(tiny_model), "--name", NAME, "--port", str(free_port())])
    err = capsys.readouterr().err
    assert code == 2 and "pip install slimpipe[serve]" in err and "Traceback" not in err


def test_health_and_model_readiness(conn):
    assert conn.request("GET", "/v2/health/ready") == (200, {"ready": True})
    assert conn.request("GET", f"/v2/models/{NAME}/ready") == (200, {"name": NAME, "ready": True})


def test_by_default_it_listens_on_loopback_only(server):
    listening = [line.split()[1] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                 if line.split()[3] == "0A"]  # TCP_LISTEN; addresses as hex IPv4:port
    assert f"0100007F:{server.port:04X}" in listening and f"00000000:{server.port:04X}" not in listening


def test_metadata_gives_input_and_output_names_datatypes_and_shapes(conn, pruned):
    from slimpipe import modeldir

    status, meta = conn.request("GET", f"/v2/models/{NAME}")
    assert status == 200 and meta["name"] == NAME
    assert meta["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 3, 32, 32]}]
    classes = len(modeldir.read_info(pruned).classes)
    assert [(o["datatype"], o["shape"]) for o in meta["outputs"]] == [("FP32", [-1, classes])]


def test_infer_answers_as_the_benchmark_predictor_on_val_images(conn, pruned, tiny_dataset):
    feeds = val_feeds(pruned, tiny_dataset, 4)
    status, response = conn.request("POST", f"/v2/models/{NAME}/infer", infer_body(feeds, request_id="r1"))
    assert status == 200 and response["id"] == "r1", response
    served = list(output_arrays(response).values())
    expected = benchmark_outputs(pruned, feeds)
    assert [a.shape for a in served] == [(4, 10)] == [e.shape for e in expected]
    np.testing.assert_allclose(served[0], expected[0], rtol=1e-5, atol=1e-6)


def test_parallel_predictors_answer_concurrent_requests_as_one_predictor_does(pruned, tiny_dataset):
    from concurrent.futures import ThreadPoolExecutor

    from slimpipe.inference import PredictorSettings
    from slimpipe.serving.model import ServedModel

    images = val_feeds(pruned, tiny_dataset, 12)["image"]
    served = ServedModel.open(pruned, PredictorSettings(mkldnn=True), parallel=3)
    with ThreadPoolExecutor(3) as threads:  # as the server runs them: one thread per predictor
        answers = list(threads.map(lambda i: served.infer([images[i % 12:i % 12 + 1]])[0][1], range(48)))
    predictor = benchmark_predictor(pruned)
    alone = [predictor([images[i:i + 1]]) for i in range(12)]
    for i, answer in enumerate(answers):
        np.testing.assert_allclose(answer, alone[i % 12], rtol=1e-5, atol=1e-6)


def _good(shape=(1, 3, 32, 32), **changes):
    tensor = {"name": "image", "shape": list(shape), "datatype": "FP32", "data": [0.5] * int(np.prod(shape))}
    return json.dumps({"inputs": [{**tensor, **changes}]}).encode()


MALFORMED = [
    ("not-json", b"{not json", "malformed request"),
    ("inputs-not-a-list", b'{"inputs": 3}', "malformed request"),
    ("unknown-input", _good(name="img"), "unknown input(s) ['img']; missing input(s) ['image']"),
    ("wrong-datatype", _good(datatype="INT32"), "input 'image': datatype INT32, the model takes FP32"),
    ("wrong-shape", _good(shape=(1, 3, 32, 31)), "input 'image': shape [1, 3, 32, 31], the model takes [-1, 3, 32, 32]"),
    ("data-too-short", _good(data=[1.0, 2.0]), "input 'image': its data does not fit shape [1, 3, 32, 32]"),
    ("data-not-numbers", _good(data=["a"] * 3072), "input 'image': its data does not fit"),
    ("empty-batch", _good(shape=(0, 3, 32, 32)), "has an empty dimension"),
    ("input-twice", json.dumps({"inputs": [json.loads(_good())["inputs"][0]] * 2}).encode(), "given twice"),
]


@pytest.mark.parametrize("body, message", [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_a_malformed_request_gets_400_with_a_message_and_the_server_keeps_serving(conn, body, message):
    status, response = conn.request("POST", f"/v2/models/{NAME}/infer", body)
    assert status == 400 and message in response["error"], response
    status, response = conn.request("POST", f"/v2/models/{NAME}/infer", _good())
    assert status == 200 and response["outputs"][0]["shape"] == [1, 10]


def _two_programs(w):
    shutil.copyfile(w.path("model/inference/model.pdmodel"), w.path("model/inference/other.pdmodel"))


def _params_only(w):
    w.path("kserve").mkdir()
    shutil.copyfile(w.path("model/inference/model.pdiparams"), w.path("kserve/model.pdiparams"))


def _two_params(w):
    w.path("kserve").mkdir()
    for name in ("model.pdmodel", "model.pdiparams"):
        shutil.copyfile(w.path("model/inference", name), w.path("kserve", name))
    shutil.copyfile(w.path("model/inference/model.pdiparams"), w.path("kserve/old.pdiparams"))


def _garbage_program(w):
    w.path("model/inference/model.pdmodel").write_bytes(b"\x00not a program" * 50)


def serve(w, model, *extra):
    return ["serve", "--model", model, "--name", NAME, "--port", free_port(), *extra]


BAD_MODELS = [
    Case("two-pdmodel", lambda w: serve(w, w.model), "inference: expected exactly one *.pdmodel file (KServe's paddle "
         "runtime rule), found 2: model.pdmodel, other.pdmodel", setup=_two_programs),
    Case("no-pdmodel", lambda w: serve(w, w.path("kserve")),
         lambda w: f"{w.path('kserve')}: expected exactly one *.pdmodel file (KServe's paddle runtime rule), found 0",
         setup=_params_only),
    Case("two-pdiparams", lambda w: serve(w, w.path("kserve")),
         lambda w: f"{w.path('kserve')}: expected exactly one *.pdiparams file (KServe's paddle runtime rule), found 2",
         setup=_two_params),
    Case("not-a-folder", lambda w: serve(w, w.path("sens.json")), "sens.json: not a folder"),
    Case("missing-folder", lambda w: serve(w, w.path("nowhere")), "nowhere: not a folder"),
    Case("not-a-program", lambda w: serve(w, w.model), "model.pdmodel: not a Paddle inference program",
         setup=_garbage_program),
    Case("name-with-slash", lambda w: ["serve", "--model", w.model, "--name", "a/b", "--port", free_port()],
         "model name 'a/b': expected"),
    Case("download-dir-for-local", lambda w: serve(w, w.model, "--download-dir", w.path("dl")),
         "only for a model in object storage"),
]


@pytest.mark.parametrize("case", BAD_MODELS, ids=lambda c: c.id)
def test_a_bad_model_folder_exits_2_naming_it(case, workspace, capsys):
    check(case, workspace, capsys)


def test_a_port_in_use_exits_2_naming_it(tiny_model, capsys):
    from slimpipe.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--model", str(tiny_model), "--name", NAME, "--port", str(port)])
    assert code == 2 and f"127.0.0.1:{port}: cannot listen there" in capsys.readouterr().err


def test_a_model_in_object_storage_is_fetched_to_a_private_folder_removed_afterwards(s3, pruned):  # noqa: F811
    from slimpipe import storage
    from slimpipe.serving.model import fetched, model_files

    store = storage.ObjectStore.from_env()
    store.ensure_bucket("models")
    storage.upload_tree(store, pruned / "inference", storage.parse_uri("s3://models/digits/run-1"))
    with fetched("s3://models/digits/run-1") as folder:
        program, params = model_files(folder)
        assert program.read_bytes() == (pruned / "inference/model.pdmodel").read_bytes()
        assert params.read_bytes() == (pruned / "inference/model.pdiparams").read_bytes()
    assert not folder.exists()


def test_a_download_dir_keeps_the_model_and_may_be_reused(s3, pruned, tmp_path):  # noqa: F811
    from slimpipe import storage
    from slimpipe.serving.model import fetched, model_files

    store = storage.ObjectStore.from_env()
    store.ensure_bucket("models")
    storage.upload_tree(store, pruned, storage.parse_uri("s3://models/digits/run-2"))
    for _ in range(2):  # the second run replaces its own earlier download
        with fetched("s3://models/digits/run-2", tmp_path / "dl") as folder:
            assert model_files(folder)[0] == tmp_path / "dl/model/inference/model.pdmodel"
    assert (tmp_path / "dl/model/inference/model.pdiparams").is_file()


def test_without_mkldnn_it_answers_as_the_predictor_without_mkldnn_and_stops_with_status_0(tiny_model, tiny_dataset,
                                                                                           tmp_path):
    feeds = val_feeds(tiny_model, tiny_dataset, 2)
    with ServerProcess(tiny_model, "base", free_port(), tmp_path / "log", ["--no-mkldnn"]) as proc:
        conn = Connection(proc.port)
        status, response = conn.request("POST", "/v2/models/base/infer", infer_body(feeds))
        conn.close()
        code = proc.stop()
    assert status == 200 and code == 0 and "MKLDNN off" in proc.log_tail(100_000)
    served = list(output_arrays(response).values())[0]
    np.testing.assert_allclose(served, benchmark_outputs(tiny_model, feeds, mkldnn=False)[0], rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    from slimpipe.data.shapes import write_shapes_sample
    from slimpipe.stages.train import train

    root = tmp_path_factory.mktemp("serve-detection")
    write_shapes_sample(root / "data", n_train=12, n_val=4, size=64)
    train(root / "data", root / "model", task="detection", epochs=1, input_size=(64, 64),
          arch_options={"scale": 0.25, "neck_width": 0.125})
    return root / "data", root / "model"


def test_a_detector_takes_im_shape_and_scale_factor_and_answers_as_the_predictor(detector, tmp_path):
    data, model = detector
    feeds = val_feeds(model, data, 4)
    with ServerProcess(model, "shapes", free_port(), tmp_path / "log") as proc:
        conn = Connection(proc.port)
        _, meta = conn.request("GET", "/v2/models/shapes")
        status, response = conn.request("POST", "/v2/models/shapes/infer", infer_body(feeds))
        conn.close()
    assert [(i["name"], i["shape"]) for i in meta["inputs"]] == [
        ("image", [-1, 3, 64, 64]), ("im_shape", [-1, 2]), ("scale_factor", [-1, 2])]
    assert status == 200, response
    boxes, counts = output_arrays(response).values()
    expected_boxes, expected_counts = benchmark_outputs(model, feeds)
    assert counts.dtype == expected_counts.dtype and counts.tolist() == expected_counts.tolist()
    assert boxes.shape == expected_boxes.shape and boxes.shape[-1] == 6
    np.testing.assert_allclose(boxes, expected_boxes, rtol=1e-5, atol=1e-4)
