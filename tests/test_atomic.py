"""Write aside, then rename: failures leave nothing half-written and keep what was there."""
import os
import stat

import pytest

from slimpipe import atomic
from slimpipe.errors import SlimpipeError


def test_output_dir_appears_only_when_the_block_succeeds(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic.output_dir(target) as tmp:
            (tmp / "partial").write_text("x")
            raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_the_previous_directory(tmp_path):
    target = tmp_path / "out"
    with atomic.output_dir(target) as tmp:
        (tmp / "v").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic.output_dir(target) as tmp:
            (tmp / "v").write_text("2")
            raise RuntimeError("boom")
    assert (target / "v").read_text() == "1"


def test_successful_rewrite_replaces_the_directory(tmp_path):
    target = tmp_path / "out"
    for version in ("1", "2"):
        with atomic.output_dir(target) as tmp:
            (tmp / "v").write_text(version)
    assert (target / "v").read_text() == "2"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_write_json_leaves_no_temporary_files(tmp_path):
    atomic.write_json(tmp_path / "a.json", {"x": 1})
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_new_outputs_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic.write_text(tmp_path / "f.txt", "x")
        with atomic.output_dir(tmp_path / "d"):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755


def test_replaced_outputs_keep_their_permissions(tmp_path):
    (tmp_path / "f.txt").write_text("old")
    (tmp_path / "f.txt").chmod(0o640)
    (tmp_path / "d").mkdir(mode=0o750)
    atomic.write_text(tmp_path / "f.txt", "new")
    with atomic.output_dir(tmp_path / "d"):
        pass
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o750


def test_a_stage_may_replace_its_own_earlier_output(tmp_path):
    with atomic.output_dir(tmp_path / "out", "train") as tmp:
        (tmp / "v").write_text("1")
    assert atomic.claim(tmp_path / "out", "train") == (tmp_path / "out").resolve()


def test_another_stage_may_not_replace_it(tmp_path):
    with atomic.output_dir(tmp_path / "out", "train") as tmp:
        (tmp / "v").write_text("1")
    with pytest.raises(SlimpipeError, match="not an earlier output of visualize"):
        atomic.claim(tmp_path / "out", "visualize")


def test_an_empty_folder_may_be_used(tmp_path):
    (tmp_path / "out").mkdir()
    atomic.claim(tmp_path / "out", "train")


def test_overwrite_allows_replacing_an_unrelated_folder(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("x")
    atomic.claim(tmp_path / "out", "train", overwrite=True)


def test_overwrite_never_allows_replacing_an_input(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(SlimpipeError, match="output is the dataset"):
        atomic.claim(tmp_path / "data", "train", {"dataset": tmp_path / "data"}, overwrite=True)


def test_an_input_reached_through_a_link_is_still_an_input(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "data")
    with pytest.raises(SlimpipeError, match="output lies inside the dataset"):
        atomic.claim(tmp_path / "data" / "m", "train", {"dataset": tmp_path / "alias"})


def test_object_store_inputs_are_not_paths(tmp_path):
    atomic.claim(tmp_path / "out", "ingest", {"dataset": "s3://bucket/data"})


def test_a_file_output_is_replaced_only_when_recognised(tmp_path):
    (tmp_path / "r.json").write_text('{"format": "slimpipe.benchmark/1"}')
    (tmp_path / "mine.json").write_text('{"format": "mine"}')
    ours = atomic.json_tagged("slimpipe.benchmark/1")
    atomic.claim(tmp_path / "r.json", "benchmark", folder=False, ours=ours)
    with pytest.raises(SlimpipeError, match="not an earlier output of benchmark"):
        atomic.claim(tmp_path / "mine.json", "benchmark", folder=False, ours=ours)


def test_charts_drawn_here_are_recognised(tmp_path):
    from slimpipe.analysis.plots import drawn_here, plot_comparison

    plot_comparison([("latency (ms)", 2.0, 1.0, ""), ("size (MB)", 4.0, 2.0, "")], "title", tmp_path / "c.png")
    (tmp_path / "other.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    assert drawn_here(tmp_path / "c.png")
    assert not drawn_here(tmp_path / "other.png")
