"""Publishing never overwrites: a run id is a run's name and its unique job id, a run folder already there is
refused, and latest.json moves only forward in creation time, also when two publishers race (a conditional
write in a bucket, a lock in a folder)."""
import json
import threading
from datetime import datetime, timezone

import pytest

from slimpipe import storage
from slimpipe.cli import main
from slimpipe.errors import SlimpipeError
from slimpipe.stages import publish as pub
from tests.s3_fixtures import s3  # noqa: F401  (fixture)
from tests.test_cli_ingest_publish import publish_argv, results  # noqa: F401  (fixture)

UUID = "6f1c1e0a-3b4f-4a77-9d2c-52b8c1a0e9f1"


# run ids and creation times ----------------------------------------------------------------------------------

def test_a_run_id_is_the_readable_name_then_the_unique_job_id():
    assert pub.run_id_for("slimpipe-prune 2026-06-01 12:00:00.123", UUID) == \
        f"slimpipe-prune-2026-06-01-12-00-00-123-{UUID}"
    assert pub.run_id_for("weekly retrain", UUID) != pub.run_id_for("weekly retrain", UUID.replace("6f", "7f"))


def test_a_run_id_keeps_60_characters_of_a_long_or_odd_name():
    run_id = pub.run_id_for("Ünïcode / " + "n" * 200, UUID)
    assert run_id == ("n-code-" + "n" * 200)[:60] + f"-{UUID}" and pub.check_run_id(run_id)
    assert pub.run_id_for("", UUID) == UUID and pub.run_id_for("../..", UUID) == UUID


@pytest.mark.parametrize("job_id", ["", "{{$.pipeline_job_uuid}}", "a/b"])
def test_a_job_id_that_is_no_id_is_refused(job_id):
    with pytest.raises(SlimpipeError, match="job id .*: expected the run's unique id"):
        pub.run_id_for("run", job_id)


def test_creation_times_are_read_as_utc():
    utc = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    assert pub.parse_created("2026-06-01T12:00:00Z") == utc
    assert pub.parse_created("2026-06-01T14:00:00+02:00") == utc
    assert pub.parse_created("2026-06-01T12:00:00") == utc  # no offset: UTC
    before = datetime.now(timezone.utc)
    assert before <= pub.parse_created("{{$.pipeline_job_create_time_utc}}") <= datetime.now(timezone.utc)
    with pytest.raises(SlimpipeError, match="created 'yesterday': expected an ISO-8601 time"):
        pub.parse_created("yesterday")


# the pointer moves only forward --------------------------------------------------------------------------------

def pointer_of(dest) -> dict:
    if str(dest).startswith("s3://"):
        loc = storage.parse_uri(str(dest))
        return json.loads(storage.ObjectStore.from_env().get_bytes(loc.bucket, loc.key(pub.POINTER)))
    return json.loads((dest / pub.POINTER).read_text())


def record_of(dest, run_id) -> dict:
    if str(dest).startswith("s3://"):
        loc = storage.parse_uri(str(dest))
        return json.loads(storage.ObjectStore.from_env().get_bytes(loc.bucket, loc.key(run_id, pub.RECORD)))
    return json.loads((dest / run_id / pub.RECORD).read_text())


@pytest.fixture(params=["folder", "bucket"])
def destination(request, tmp_path):
    if request.param == "folder":
        return tmp_path / "published"
    request.getfixturevalue("s3")
    storage.ObjectStore.from_env().ensure_bucket("models")
    return "s3://models/digits"


def test_an_older_run_published_later_leaves_the_pointer(results, destination):  # noqa: F811
    assert main(publish_argv(results, destination, "run-new", "--created", "2026-06-02T00:00:00Z")) == 0
    assert main(publish_argv(results, destination, "run-old", "--created", "2026-06-01T00:00:00Z")) == 0
    assert pointer_of(destination)["run_id"] == "run-new"
    old = record_of(destination, "run-old")
    assert old["gate"]["passed"] and old["created"] == "2026-06-01T00:00:00.000000Z"
    assert main(publish_argv(results, destination, "run-newest", "--created", "2026-06-03T00:00:00Z")) == 0
    assert pointer_of(destination)["run_id"] == "run-newest"


def test_a_rejected_run_records_why(results, tmp_path):  # noqa: F811
    dest = tmp_path / "published"
    assert main(publish_argv(results, dest, "run-1", "--max-drop-points", "0.1")) == 0  # 0.5 points dropped
    record = record_of(dest, "run-1")
    assert record["reason"] == "rejected by the quality gate: the metric dropped 0.50 points (at most 0.1)"
    assert not (dest / pub.POINTER).exists()


def test_a_pointer_written_before_creation_times_counts_its_publication_time(results, tmp_path):  # noqa: F811
    dest = tmp_path / "published"
    dest.mkdir()
    (dest / pub.POINTER).write_text(json.dumps({"run_id": "legacy", "published_at": "2026-06-02T00:00:00Z"}))
    assert main(publish_argv(results, dest, "run-old", "--created", "2026-06-01T00:00:00Z")) == 0
    assert pointer_of(dest)["run_id"] == "legacy"
    assert main(publish_argv(results, dest, "run-new", "--created", "2026-06-03T00:00:00Z")) == 0
    assert pointer_of(dest)["run_id"] == "run-new"


def test_a_pointer_that_is_no_record_is_refused_before_anything_is_written(results, tmp_path, capsys):  # noqa: F811
    dest = tmp_path / "published"
    dest.mkdir()
    (dest / pub.POINTER).write_text("[]")
    assert main(publish_argv(results, dest, "run-1")) == 2
    assert f"{dest / pub.POINTER}: not a slimpipe publish record" in capsys.readouterr().err
    assert sorted(p.name for p in dest.iterdir()) == [pub.POINTER]


def test_a_creation_time_that_is_no_time_is_refused(results, tmp_path, capsys):  # noqa: F811
    assert main(publish_argv(results, tmp_path / "pub", "run-1", "--created", "last week")) == 2
    assert "slimpipe publish: error: created 'last week': expected an ISO-8601 time" in capsys.readouterr().err
    assert not (tmp_path / "pub").exists()


# two publishers at once ---------------------------------------------------------------------------------------

def record(run_id: str, day: int) -> pub.RunRecord:
    return pub.RunRecord(run_id=run_id, created=f"2026-06-{day:02d}T00:00:00.000000Z", published_at="", location="",
                         objects=[], gate={"passed": True}, reason="")


def test_the_embedded_s3_server_honours_conditional_writes(s3):
    storage.ObjectStore.from_env().ensure_bucket("models")
    writer = pub._RemoteWriter("s3://models/digits")
    assert writer.put_if("digits/x.json", b"1", None) is True
    assert writer.put_if("digits/x.json", b"2", None) is False  # If-None-Match: * on an existing object
    _, etag = writer.get("digits/x.json")
    assert writer.put_if("digits/x.json", b"3", "0" * 32) is False  # If-Match another ETag
    assert writer.put_if("digits/x.json", b"4", etag) is True
    assert writer.get("digits/x.json")[0] == b"4"


@pytest.mark.parametrize("first, a_day, b_day, pointer", [
    (None, 1, 2, "run-b"),  # no pointer yet (If-None-Match: *); the later-created run B wins
    (5, 7, 6, "run-a"),  # a pointer there (If-Match); A, read before B wrote, is still the newer
])
def test_a_publisher_whose_read_went_stale_compares_again(s3, first, a_day, b_day, pointer):
    storage.ObjectStore.from_env().ensure_bucket("models")
    a, b = pub._RemoteWriter("s3://models/digits"), pub._RemoteWriter("s3://models/digits")
    if first:
        assert b.point(record("run-0", first)) == (True, record("run-0", first))
    real_get, real_put_if, puts = a.get, a.put_if, []

    def read_then_b_publishes(key):
        got = real_get(key)
        if not puts:
            assert b.point(record("run-b", b_day))[0]  # B moves the pointer between A's read and A's write
        return got

    def put_if(key, data, etag):
        puts.append(real_put_if(key, data, etag))
        return puts[-1]

    a.get, a.put_if = read_then_b_publishes, put_if
    moved, current = a.point(record("run-a", a_day))
    assert puts[0] is False  # A's write on its stale read was refused by the store
    assert moved == (pointer == "run-a") and current.run_id == pointer
    assert b.current().run_id == pointer


@pytest.mark.parametrize("a_day, b_day, pointer", [(1, 2, "run-b"), (2, 1, "run-a")])
def test_local_publishers_take_turns_on_the_pointer(tmp_path, a_day, b_day, pointer):
    (tmp_path / "pub").mkdir()
    a, b = pub._LocalWriter(str(tmp_path / "pub")), pub._LocalWriter(str(tmp_path / "pub"))
    a_read, go, outcome = threading.Event(), threading.Event(), {}
    real_current = a.current

    def read_then_wait():
        got = real_current()
        a_read.set()
        assert go.wait(10)
        return got

    a.current = read_then_wait
    thread_a = threading.Thread(target=lambda: outcome.update(a=a.point(record("run-a", a_day))))
    thread_b = threading.Thread(target=lambda: outcome.update(b=b.point(record("run-b", b_day))))
    thread_a.start()
    assert a_read.wait(10)
    thread_b.start()
    thread_b.join(0.5)
    assert thread_b.is_alive() and not (tmp_path / "pub" / pub.POINTER).exists()  # B waits for A's lock
    go.set()
    thread_a.join(10)
    thread_b.join(10)
    assert outcome["a"][0] is True and outcome["b"][0] == (pointer == "run-b")
    assert json.loads((tmp_path / "pub" / pub.POINTER).read_text())["run_id"] == pointer
    assert sorted(p.name for p in (tmp_path / "pub").iterdir()) == [pub.POINTER]  # no lock file left
