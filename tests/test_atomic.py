"""Write aside, then rename: failures leave nothing half-written and keep what was there."""
import pytest

from slimpipe import atomic


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
