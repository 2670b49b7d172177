"""Properties of the dataset readers over generated input (hypothesis): whatever a list file, an annotation
XML or a path on a list line holds, the reader either returns what the input says or raises SlimpipeError
naming the file (and line); nothing else escapes, and nothing outside the dataset folder is ever reached."""
from __future__ import annotations

import math
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slimpipe.data import listfile
from slimpipe.data.voc import read_voc, voc_xml
from slimpipe.errors import SlimpipeError

SECRET = "SECRET-51d0 outside the dataset"
SETTINGS = settings(max_examples=80, deadline=None)
CLASSES = ["disc", "square", "triangle"]
NEWLINES = ["\n", "\r\n", "\r"]

# text a list line may hold: path-like words, separators, and anything else unicode has
words = st.sampled_from(["images/0/a.png", "0", "1", "..", "/etc/passwd", "a b", "\t", "\x00", "\ufeff",
                         "\u2028", "\x0b", "\x1c", "\x85", "é", " "])
line_text = st.lists(st.one_of(words, st.text(max_size=12)), max_size=5).map("".join).map(
    lambda s: re.sub(r"[\r\n]", " ", s))


def _in_fresh_root(write) -> tuple[Path, tempfile.TemporaryDirectory]:
    tmp = tempfile.TemporaryDirectory()
    root = Path(tmp.name) / "data"
    root.mkdir()
    write(root)
    return root, tmp


def _as_read(lines: list[str], bom: bool) -> list[str]:
    """The lines a reader sees: a byte-order mark at the very start of the file is not content."""
    if lines and not bom and lines[0].startswith("\ufeff"):
        return [lines[0][1:], *lines[1:]]
    return lines


def _check_list_error(exc: SlimpipeError, path: Path, n_lines: int) -> None:
    message = str(exc)
    if message == f"{path}: the train split is empty":
        return
    match = re.match(rf"{re.escape(str(path))}:(\d+): ", message)
    assert match, message
    assert 1 <= int(match.group(1)) <= n_lines, message


@SETTINGS
@given(lines=st.lists(line_text, max_size=8), newline=st.sampled_from(NEWLINES), bom=st.booleans())
def test_list_lines_give_their_fields_or_an_error_naming_the_line(lines, newline, bom):
    text = ("\ufeff" if bom else "") + newline.join(lines)
    root, tmp = _in_fresh_root(lambda r: (r / "train_list.txt").write_bytes(text.encode("utf-8", "surrogatepass")))
    path = root / "train_list.txt"
    with tmp:
        try:
            entries = listfile.read_list(root, "train", n_fields=2)
        except SlimpipeError as exc:
            _check_list_error(exc, path, max(1, len(lines)))
            return
    expected = [(i, tuple(line.split())) for i, line in enumerate(_as_read(lines, bom), start=1) if line.strip()]
    assert [(e.line, e.fields) for e in entries] == expected
    assert all(e.file == path for e in entries)


@SETTINGS
@given(data=st.binary(max_size=200))
def test_list_file_of_any_bytes_gives_entries_or_an_error_naming_the_file(data):
    root, tmp = _in_fresh_root(lambda r: (r / "train_list.txt").write_bytes(data))
    path = root / "train_list.txt"
    with tmp:
        try:
            entries = listfile.read_list(root, "train", n_fields=2)
        except SlimpipeError as exc:
            _check_list_error(exc, path, data.count(b"\n") + data.count(b"\r") + 1)
            return
    assert entries and all(len(e.fields) == 2 and e.line >= 1 for e in entries)


@SETTINGS
@given(lines=st.lists(line_text, max_size=6), bom=st.booleans())
def test_labels_file_gives_names_or_an_error_naming_the_file(lines, bom):
    text = ("\ufeff" if bom else "") + "\n".join(lines)
    root, tmp = _in_fresh_root(lambda r: (r / "labels.txt").write_bytes(text.encode("utf-8", "surrogatepass")))
    with tmp:
        try:
            names = listfile.read_labels(root)
        except SlimpipeError as exc:
            assert str(exc).startswith(f"{root / 'labels.txt'}:"), str(exc)
            return
    assert names == [line.strip() for line in _as_read(lines, bom)][: len(names)]
    assert len(set(names)) == len(names) and all(names)


# --- VOC XML ----------------------------------------------------------------------------------------------

numbers = st.one_of(st.integers(-10, 300).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.sampled_from(["nan", "-inf", "1e999", "", " 12 ", "1_0", "0x10", "64.0", "-0"]),
                    st.text(max_size=6))
boxes = st.lists(st.tuples(st.sampled_from(CLASSES + ["hexagon", ""]), st.lists(numbers, min_size=4, max_size=4)),
                 max_size=3)


def _document(width: str, height: str, objects: list[tuple[str, list[str]]]) -> str:
    parts = [f"<annotation><size><width>{width}</width><height>{height}</height></size>"]
    for name, (x1, y1, x2, y2) in objects:
        parts.append(f"<object><name>{name}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
                     f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>")
    return "".join(parts) + "</annotation>"


def _read(data: bytes, image_size=None):
    """read_voc on `data`: the Annotation, or None after checking the error names the file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "a.xml")
        path.write_bytes(data)
        try:
            return read_voc(path, CLASSES, "list:1: Annotations/a.xml", image_size)
        except SlimpipeError as exc:
            assert str(exc).startswith("list:1: Annotations/a.xml: "), str(exc)
            return None


def _check_annotation(ann) -> None:
    if ann is None:
        return
    assert ann.width >= 1 and ann.height >= 1
    b = ann.boxes
    assert all(math.isfinite(v) for v in b.ravel())
    assert ((0 <= b[:, 0]) & (b[:, 0] < b[:, 2]) & (b[:, 2] <= ann.width)).all()
    assert ((0 <= b[:, 1]) & (b[:, 1] < b[:, 3]) & (b[:, 3] <= ann.height)).all()


@SETTINGS
@given(width=numbers, height=numbers, objects=boxes, image_size=st.sampled_from([None, (64, 64)]))
def test_generated_annotation_is_read_or_refused_with_its_file(width, height, objects, image_size):
    escaped = [(n, [v.replace("&", "&amp;").replace("<", "&lt;") for v in vs]) for n, vs in objects]
    width, height = (v.replace("&", "&amp;").replace("<", "&lt;") for v in (width, height))
    ann = _read(_document(width, height, escaped).encode("utf-8", "surrogatepass"), image_size)
    _check_annotation(ann)
    if ann is not None and image_size is not None:
        assert (ann.width, ann.height) == image_size


VALID = voc_xml("a.jpg", 64, 64, [("disc", [1, 2, 30, 40]), ("square", [10, 10, 60, 63])]).encode()
fragments = st.sampled_from([b"<", b">", b"&", b"&amp;", b"&x;", b"<!DOCTYPE a>", b'<!ENTITY x "y">',
                             b"<?xml version='1.0' encoding='latin-1'?>", b"\xff\xfe", b"\x00", b"]]>",
                             b"<![CDATA[", b"<object>", b"</object>", b"nan", b"-1"]) | st.binary(max_size=8)


@SETTINGS
@given(edits=st.lists(st.tuples(st.integers(0, len(VALID)), st.integers(0, 8), fragments), max_size=4))
def test_mutated_annotation_never_escapes_with_anything_but_slimpipe_error(edits):
    data = VALID
    for at, cut, fragment in edits:
        data = data[:at] + fragment + data[at + cut:]
    _check_annotation(_read(data, (64, 64)))


@SETTINGS
@given(data=st.binary(max_size=300))
def test_annotation_of_any_bytes_never_escapes_with_anything_but_slimpipe_error(data):
    _check_annotation(_read(data))


def test_entities_are_never_expanded_even_one():
    doc = b'<!DOCTYPE annotation [<!ENTITY w "64">]><annotation><size><width>&w;</width>' \
          b"<height>64</height></size></annotation>"
    with pytest.raises(SlimpipeError, match="declares a document type"):
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "a.xml").write_bytes(doc)
            read_voc(Path(tmp, "a.xml"), CLASSES, "a.xml")


# --- path containment -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A dataset `data` beside a folder `outside` and a sibling `data2` (a name `data` is a prefix of), with
    links of every kind: in and out, relative and absolute, to files and folders, dangling, looping."""
    base = tmp_path_factory.mktemp("tree")
    root, out, sibling = base / "data", base / "outside", base / "data2"
    for folder in (root / "a" / "deep", root / "b", out, sibling):
        folder.mkdir(parents=True)
    for f in (root / "a" / "f.png", root / "a" / "deep" / "g.png", root / "top.txt", sibling / "s.png"):
        f.write_text("x")
    (out / "secret.txt").write_text(f"{SECRET}\n")
    links = {"in_dir": "a", "in_file": "a/f.png", "up_in": "../data/a/f.png", "out_dir": "../outside",
             "out_file": "../outside/secret.txt", "sibling": "../data2/s.png", "abs_in": str(root / "top.txt"),
             "abs_out": str(out / "secret.txt"), "loop1": "loop2", "loop2": "loop1", "dangling": "nowhere",
             "dangling_out": "../nowhere", "root_link": "."}
    for name, target in links.items():
        (root / name).symlink_to(target)
    (root / "a" / "back_out").symlink_to("../../outside")
    (out / "back_in").symlink_to("../data/a")
    return root


segments = st.sampled_from(["a", "b", "deep", "f.png", "g.png", "top.txt", "..", ".", "", "data", "data2",
                            "outside", "secret.txt", "s.png", "in_dir", "in_file", "up_in", "out_dir", "out_file",
                            "sibling", "abs_in", "abs_out", "loop1", "dangling", "dangling_out", "root_link",
                            "back_out", "back_in", "nowhere", "~"])


def _inside(root: Path, path: str) -> bool:
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root


@SETTINGS
@given(parts=st.lists(segments, min_size=1, max_size=6), lead=st.sampled_from(["", "/", "ROOT/", "OUT/"]))
def test_a_path_on_a_list_line_never_resolves_outside_the_dataset(tree, parts, lead):
    rel = lead.replace("ROOT/", f"{tree}/").replace("OUT/", f"{tree.parent / 'outside'}/") + "/".join(parts)
    entry = listfile.ListEntry((rel, "0"), tree / "train_list.txt", 3)
    try:
        path = listfile.resolve(tree, entry, rel)
    except SlimpipeError as exc:
        assert str(exc).startswith(f"{tree / 'train_list.txt'}:3: "), str(exc)
        assert not (os.path.isfile(os.path.join(tree, rel)) and _inside(tree, os.path.join(tree, rel))), rel
        return
    assert path.is_file() and _inside(tree, str(path)) and path != tree
    assert os.path.realpath(os.path.join(tree, rel)) == str(path)


@SETTINGS
@given(rel=st.text(max_size=30))
def test_any_text_as_a_path_gives_a_file_inside_or_an_error(tree, rel):
    entry = listfile.ListEntry((rel, "0"), tree / "train_list.txt", 1)
    try:
        path = listfile.resolve(tree, entry, rel)
    except SlimpipeError as exc:
        assert str(exc).startswith(f"{tree / 'train_list.txt'}:1: "), str(exc)
        return
    assert path.is_file() and _inside(tree, str(path))


@SETTINGS
@given(parts=st.lists(segments, min_size=1, max_size=5), absolute=st.booleans())
def test_a_labels_file_link_is_read_only_when_it_stays_inside(tree, parts, absolute):
    labels = tree / "labels.txt"
    labels.unlink(missing_ok=True)
    target = "/".join([str(tree), *parts]) if absolute else "/".join(parts) or "."
    labels.symlink_to(target)
    try:
        names = listfile.read_labels(tree)
    except SlimpipeError as exc:
        assert str(exc).startswith(f"{labels}:") and SECRET not in str(exc), str(exc)
        assert not (os.path.isfile(labels) and _inside(tree, str(labels)))
        return
    finally:
        labels.unlink()
    assert _inside(tree, os.path.join(tree, target)) and names == ["x"]  # the link's own target, resolved
