"""Object keys that would leave the download folder: refused by our own check (unit and property tests), and
end to end against an S3-protocol server on 127.0.0.1 with keys the minio SDK uploads (`//` after the
prefix, backslashes, NUL; it refuses `.` and `..` segments itself, so those are tested on the check)."""
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slimpipe import storage
from slimpipe.errors import SlimpipeError
from tests.badinput import Case, check

URI = "s3://bkt/data"


@pytest.mark.parametrize("key, rel", [("data/a.jpg", "a.jpg"), ("data/images/x y.jpg", "images/x y.jpg"),
                                      ("data/..a/b..", "..a/b.."), ("data/.hidden", ".hidden")])
def test_a_clean_key_maps_below_the_folder(tmp_path, key, rel):
    assert storage.key_path(tmp_path, "data/", key, URI) == tmp_path / rel


@pytest.mark.parametrize("key, problem", [
    ("data//tmp/x", "continues with '/' after the prefix"),
    ("data/../x", "'.' or '..' segment"),
    ("data/a/../../x", "'.' or '..' segment"),
    ("data/./x", "'.' or '..' segment"),
    ("data/a//b", "empty segment"),
    ("data/a\\..\\..\\x", "backslash"),
    ("data/x\0y", "NUL"),
    ("data/", "nothing follows the prefix"),
    ("other/x", "does not lie under the prefix"),
])
def test_a_key_that_is_not_a_clean_relative_path_is_refused(tmp_path, key, problem):
    with pytest.raises(SlimpipeError) as exc:
        storage.key_path(tmp_path, "data/", key, URI)
    assert f"{URI}: object key {key!r}" in str(exc.value) and problem in str(exc.value)


def test_a_key_that_is_also_the_folder_of_another_is_refused(tmp_path):
    with pytest.raises(SlimpipeError, match="object key 'data/a' is a file and also the folder of 'data/a/b'"):
        storage.key_paths(tmp_path, "data/", ["data/a/b", "data/a"], URI)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", ".", "..", "/", "//", "\\", "\0", " ", "é", "~"]), max_size=12).map("".join))
def test_no_key_maps_outside_the_folder(tmp_path_factory, rest):
    dest = tmp_path_factory.getbasetemp() / "dest"
    try:
        path = storage.key_path(dest, "data/", "data/" + rest, URI)
    except SlimpipeError as exc:
        assert repr("data/" + rest) in str(exc)
        return
    assert dest.resolve() in path.resolve().parents
    assert path.relative_to(dest).as_posix() == rest  # written under the name the key gives it


@pytest.fixture(scope="module")
def server():
    """One server for the module (buckets per case); fast bounded retries."""
    from slimpipe.local_s3 import embedded_s3
    from tests.s3_fixtures import FAST_RETRIES

    saved = {k: os.environ.get(k) for k in FAST_RETRIES}
    os.environ.update(FAST_RETRIES)
    try:
        with embedded_s3() as endpoint:
            yield endpoint
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)


def upload_with(bad_key):
    """A setup: the workspace dataset's list and label files in a bucket of its own (keys are checked before
    any object is downloaded, so the images need not be there), plus one object under `bad_key` (a function
    of the workspace, given after the prefix)."""

    def setup(w):
        bucket = "b" + w.root.parent.name.lower().replace("_", "-")[-40:]
        store = storage.ObjectStore.from_env()
        store.ensure_bucket(bucket)
        for name in ("labels.txt", "train_list.txt", "val_list.txt"):
            store.put_file(bucket, f"ds/{name}", w.path("data", name))
        store.put_bytes(bucket, "ds/" + bad_key(w), b"not yours")
        w.uri = f"s3://{bucket}/ds"

    return setup


def ingest_argv(w):
    return ["ingest", "--dataset", w.uri, "--out", w.path("ingested")]


# The key after the prefix names a path inside the workspace, so a download that escaped its folder would
# change the workspace tree, which the harness compares.
CASES = [
    Case("s3-key-absolute-path", ingest_argv, lambda w: "continues with '/' after the prefix",
         setup=upload_with(lambda w: str(w.path("escaped.txt")))),
    Case("s3-key-empty-segment", ingest_argv, "has an empty segment", setup=upload_with(lambda w: "images//x.jpg")),
    Case("s3-key-backslash-dotdot", ingest_argv, "holds a backslash",
         setup=upload_with(lambda w: "..\\..\\escaped.txt")),
    Case("s3-key-nul", ingest_argv, "holds a NUL character", setup=upload_with(lambda w: "images/x\0.jpg")),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(case, server, workspace, capsys):
    err = check(case, workspace, capsys)
    assert workspace.uri in err  # the message names the URI, and the key (checked through the case's text)
    assert not Path("/escaped.txt").exists()
