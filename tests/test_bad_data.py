"""Datasets that lie or reach outside their folder (issue 13, families 2, 3 and 5): each case breaks a
dataset of one task and runs a stage on it, which must stop with exit 2 and a message naming the file, line
or value, no traceback, nothing written, and nothing from outside the dataset shown (tests/badinput.py).
The plain tests at the end check what is accepted instead of refused: a byte-order mark, 16-bit images,
links that stay inside the dataset, 1-bit labels."""
from __future__ import annotations

import os
import re
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from slimpipe.data.images import MAX_PIXELS
from tests.badinput import Case, Workspace, check, make_workspace

SECRET = "SECRET-7f3a9c not dataset content"  # in every file outside the dataset; never in a message
TRAIN = ["--epochs", "1", "--input-size", "32"]


# --- ways to break a dataset -------------------------------------------------------------------------------

def outside(w: Workspace, name: str = "outside.txt", content: str | bytes | None = None) -> Path:
    """A file next to the dataset (inside the workspace, outside the dataset folder)."""
    path = w.path(name)
    data = content if content is not None else f"{SECRET}\n{SECRET} 0\n"
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def link(w: Workspace, rel: str, target: str | Path) -> None:
    """Replace the dataset's file `rel` by a symbolic link to `target`."""
    path = Path(w.data) / rel
    if path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to(target)


def lines_of(w: Workspace, name: str) -> list[str]:
    return (Path(w.data) / name).read_text().splitlines()


def set_line(w: Workspace, name: str, n: int, text: str | bytes) -> None:
    """Line `n` (1-based) of the dataset's file `name` replaced by `text` (bytes kept as they are)."""
    lines = [line.encode() for line in lines_of(w, name)]
    lines[n - 1] = text if isinstance(text, bytes) else text.encode()
    (Path(w.data) / name).write_bytes(b"\n".join(lines) + b"\n")


def first_file(w: Workspace, column: int = 0) -> Path:
    """The file named in column `column` of the first train line."""
    return Path(w.data) / lines_of(w, "train_list.txt")[0].split()[column]


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` pixels (its pixels are never there)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def save_array(path: Path, array: np.ndarray) -> None:
    """Overwrite an image file with `array` (PNG, or TIFF for floats; Pillow reads by content, not name)."""
    Image.fromarray(array).save(path, format="PNG" if array.dtype != np.float32 else "TIFF")


def edit_first_xml(w: Workspace, pattern: str, new: str, count: int = 1) -> None:
    path = first_file(w, 1)
    path.write_text(re.sub(pattern, new, path.read_text(), count=count))


def label_size(w: Workspace) -> tuple[int, int]:
    with Image.open(first_file(w, 1)) as label:
        return label.size


# --- the cases -------------------------------------------------------------------------------------------

def train(task: str):
    return lambda w: ["train", "--task", task, "--dataset", w.data, "--out", w.path("out"), *TRAIN]


def in_data(*parts: str):
    """The message names this path inside the dataset (`w.data/parts...`)."""
    return lambda w: str(Path(w.data, *parts))


CLS, SEG, DET = train("classification"), train("segmentation"), train("detection")
FIRST_XML = "train_list.txt:1: Annotations/0000.xml"

CLASSIFICATION = [
    Case("cls-labels-link-outside", CLS, lambda w: f"{w.data}/labels.txt: the labels file leads outside",
         setup=lambda w: link(w, "labels.txt", outside(w))),
    Case("cls-labels-dangling-link-outside", CLS, lambda w: f"{w.data}/labels.txt: the labels file leads outside",
         setup=lambda w: link(w, "labels.txt", w.path("gone", "labels.txt"))),
    Case("cls-train-list-relative-link-outside", CLS,
         lambda w: f"{w.data}/train_list.txt: the list file leads outside",
         setup=lambda w: (outside(w), link(w, "train_list.txt", "../outside.txt"))),
    Case("cls-val-list-link-outside-in-sensitivity",
         lambda w: ["sensitivity", "--model", w.model, "--dataset", w.data, "--out", w.path("s.json")],
         lambda w: f"{w.data}/val_list.txt: the list file leads outside",
         setup=lambda w: link(w, "val_list.txt", outside(w))),
    Case("cls-list-line-dotdot", CLS, lambda w: f"{w.data}/train_list.txt:2: path '../outside.txt' points outside",
         setup=lambda w: (outside(w), set_line(w, "train_list.txt", 2, "../outside.txt 0"))),
    Case("cls-list-line-absolute", CLS,
         lambda w: f"{w.data}/train_list.txt:1: path '{w.path('outside.txt')}' points outside",
         setup=lambda w: set_line(w, "train_list.txt", 1, f"{outside(w)} 0")),
    Case("cls-image-link-outside", CLS, "train_list.txt:1: path 'images/",
         setup=lambda w: link(w, lines_of(w, "train_list.txt")[0].split()[0], outside(w, "o.png", png_header(8, 8)))),
    Case("cls-image-folder-link-outside", CLS, "points outside the dataset folder",
         setup=lambda w: (shutil.copytree(Path(w.data, "images"), w.path("elsewhere")),
                          shutil.rmtree(Path(w.data, "images")), link(w, "images", w.path("elsewhere")))),
    Case("cls-train-list-not-utf8", CLS, lambda w: f"{w.data}/train_list.txt:3: not UTF-8 text (byte 0xff)",
         setup=lambda w: set_line(w, "train_list.txt", 3, b"images/0/\xff.png 0")),
    Case("cls-labels-latin1", CLS, lambda w: f"{w.data}/labels.txt:2: not UTF-8 text (byte 0xe9)",
         setup=lambda w: set_line(w, "labels.txt", 2, "caf\u00e9".encode("latin-1"))),
    Case("cls-labels-utf16", CLS, lambda w: f"{w.data}/labels.txt:1: not UTF-8 text (byte 0xff)",
         setup=lambda w: Path(w.data, "labels.txt").write_bytes("0\n1\n".encode("utf-16"))),
    Case("cls-labels-duplicate", CLS, lambda w: f"{w.data}/labels.txt:5: class name '2' repeats line 3",
         setup=lambda w: set_line(w, "labels.txt", 5, "2")),
    Case("cls-labels-duplicate-after-bom", CLS, lambda w: f"{w.data}/labels.txt:2: class name '0' repeats line 1",
         setup=lambda w: (set_line(w, "labels.txt", 1, "\ufeff0"), set_line(w, "labels.txt", 2, "0"))),
    Case("cls-image-float32", CLS, "is a 32-bit float image (mode F)",
         setup=lambda w: save_array(first_file(w), np.full((8, 8), 0.5, np.float32))),
    Case("cls-image-bomb", CLS, lambda w: f"train_list.txt:1: image {first_file(w)} claims more than {MAX_PIXELS}",
         setup=lambda w: first_file(w).write_bytes(png_header(10_000, 10_000))),
    Case("cls-image-huge-bomb", CLS, lambda w: f"{first_file(w)} claims more than {MAX_PIXELS} pixels",
         setup=lambda w: first_file(w).write_bytes(png_header(60_000, 60_000))),
]

SEGMENTATION = [
    Case("seg-label-rgb", SEG, "train_list.txt:1: label annotations/0000.png is an RGB (colour) image (mode RGB)",
         setup=lambda w: save_array(first_file(w, 1), np.ones((*label_size(w)[::-1], 3), np.uint8))),
    Case("seg-label-rgba", SEG, "label annotations/0000.png is an RGBA (colour) image",
         setup=lambda w: save_array(first_file(w, 1), np.ones((*label_size(w)[::-1], 4), np.uint8))),
    Case("seg-label-16-bit", SEG, "train_list.txt:1: label annotations/0000.png is a 16-bit image",
         setup=lambda w: save_array(first_file(w, 1), np.ones(label_size(w)[::-1], np.uint16))),
    Case("seg-label-bomb", SEG, lambda w: f"train_list.txt:1: label {first_file(w, 1)} claims more than {MAX_PIXELS}",
         setup=lambda w: first_file(w, 1).write_bytes(png_header(50_000, 50_000))),
    Case("seg-label-link-outside", SEG, "train_list.txt:1: path 'annotations/0000.png' points outside",
         setup=lambda w: link(w, "annotations/0000.png", outside(w, "o.png", png_header(64, 64)))),
    Case("seg-val-list-link-outside", SEG, lambda w: f"{w.data}/val_list.txt: the list file leads outside",
         setup=lambda w: link(w, "val_list.txt", outside(w))),
    Case("seg-train-list-not-utf8", SEG, lambda w: f"{w.data}/train_list.txt:2: not UTF-8 text (byte 0xe9)",
         setup=lambda w: set_line(w, "train_list.txt", 2, "images/r\u00e9tine.jpg a.png".encode("cp1252"))),
    Case("seg-labels-duplicate", SEG, lambda w: f"{w.data}/labels.txt:3: class name 'background' repeats line 1",
         setup=lambda w: Path(w.data, "labels.txt").write_text("background\noptic_disc\nbackground\n")),
]

DETECTION = [
    Case("det-size-disagrees-with-image", DET, f"{FIRST_XML}: <size> says 128x64, but the image is 64x64",
         setup=lambda w: edit_first_xml(w, r"<width>\d+</width>", "<width>128</width>")),
    Case("det-width-nan", DET, f"{FIRST_XML}: <size>: <width> is 'nan', expected a finite number",
         setup=lambda w: edit_first_xml(w, r"<width>\d+</width>", "<width>nan</width>")),
    Case("det-height-inf", DET, f"{FIRST_XML}: <size>: <height> is 'inf', expected a finite number",
         setup=lambda w: edit_first_xml(w, r"<height>\d+</height>", "<height>inf</height>")),
    Case("det-width-negative", DET, "<width> is '-64', expected a finite number of at least 0",
         setup=lambda w: edit_first_xml(w, r"<width>\d+</width>", "<width>-64</width>")),
    Case("det-width-fraction", DET, "<width> is '63.5', expected a whole number of pixels",
         setup=lambda w: edit_first_xml(w, r"<width>\d+</width>", "<width>63.5</width>")),
    Case("det-height-words", DET, "<height> is 'sixty-four', expected a number",
         setup=lambda w: edit_first_xml(w, r"<height>\d+</height>", "<height>sixty-four</height>")),
    Case("det-height-missing", DET, f"{FIRST_XML}: <size>: no <height>, expected a number",
         setup=lambda w: edit_first_xml(w, r"<height>\d+</height>", "")),
    Case("det-xmin-nan", DET, f"{FIRST_XML}: object 1: <xmin> is 'NaN', expected a finite number",
         setup=lambda w: edit_first_xml(w, r"<xmin>\d+</xmin>", "<xmin>NaN</xmin>")),
    Case("det-xmax-overflows-to-inf", DET, "object 1: <xmax> is '1e999', expected a finite number",
         setup=lambda w: edit_first_xml(w, r"<xmax>\d+</xmax>", "<xmax>1e999</xmax>")),
    Case("det-ymin-negative", DET, "object 1: <ymin> is '-3', expected a finite number of at least 0",
         setup=lambda w: edit_first_xml(w, r"<ymin>\d+</ymin>", "<ymin>-3</ymin>")),
    Case("det-ymax-empty", DET, "object 1: <ymax> is '', expected a number",
         setup=lambda w: edit_first_xml(w, r"<ymax>\d+</ymax>", "<ymax></ymax>")),
    Case("det-entity-expansion", DET, f"{FIRST_XML}: the XML declares a document type (<!DOCTYPE>)",
         setup=lambda w: edit_first_xml(w, r"<annotation>", '<!DOCTYPE annotation [<!ENTITY a "aaaaaaaaaa">'
                                        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><annotation>')),
    Case("det-external-entity", DET, "the XML declares a document type",
         setup=lambda w: (outside(w), edit_first_xml(
             w, r"<annotation><filename>[^<]*</filename>",
             f'<!DOCTYPE annotation [<!ENTITY x SYSTEM "file://{w.path("outside.txt")}">]>'
             '<annotation><filename>&x;</filename>'))),
    Case("det-undefined-entity", DET, f"{FIRST_XML}: malformed XML (undefined entity",
         setup=lambda w: edit_first_xml(w, r"<filename>[^<]*</filename>", "<filename>&x;</filename>")),
    Case("det-xml-link-outside", DET, "train_list.txt:1: path 'Annotations/0000.xml' points outside",
         setup=lambda w: link(w, "Annotations/0000.xml", outside(w, "o.xml", f"<annotation>{SECRET}</annotation>"))),
    Case("det-labels-link-outside", DET, lambda w: f"{w.data}/labels.txt: the labels file leads outside",
         setup=lambda w: link(w, "labels.txt", outside(w))),
    Case("det-image-bomb", DET, lambda w: f"train_list.txt:1: image {first_file(w)} claims more than {MAX_PIXELS}",
         setup=lambda w: first_file(w).write_bytes(png_header(40_000, 40_000))),
]

CASES = [*CLASSIFICATION, *SEGMENTATION, *DETECTION]
WORKSPACE_OF = {"cls": "cls_workspace", "seg": "seg_workspace", "det": "det_workspace"}
NEEDS_MODEL = {"cls-val-list-link-outside-in-sensitivity"}  # these run in conftest's `workspace`


def workspace_for(case: Case) -> str:
    return "workspace" if case.id in NEEDS_MODEL else WORKSPACE_OF[case.id.split("-")[0]]


def small_sample(task: str, root: Path) -> Path:
    """The task's generated sample at 64x64, three train and two val pairs."""
    from slimpipe.data.fundus import write_fundus_sample
    from slimpipe.data.shapes import write_shapes_sample

    writer = {"segmentation": write_fundus_sample, "detection": write_shapes_sample}[task]
    writer(root, n_train=3, n_val=2, size=64)
    return root


@pytest.fixture(scope="module")
def cls_sample(tiny_dataset, tmp_path_factory) -> Path:
    """The tiny digits dataset cut to the files its first lines name, so that each case copies little."""
    root = tmp_path_factory.mktemp("cls") / "data"
    root.mkdir()
    shutil.copyfile(tiny_dataset / "labels.txt", root / "labels.txt")
    for name, keep in (("train_list.txt", 12), ("val_list.txt", 4)):
        lines = (tiny_dataset / name).read_text().splitlines()[:keep]
        (root / name).write_text("\n".join(lines) + "\n")
        for line in lines:
            rel = line.split()[0]
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tiny_dataset / rel, root / rel)
    return root


@pytest.fixture(scope="module")
def seg_sample(tmp_path_factory) -> Path:
    return small_sample("segmentation", tmp_path_factory.mktemp("seg") / "data")


@pytest.fixture(scope="module")
def det_sample(tmp_path_factory) -> Path:
    return small_sample("detection", tmp_path_factory.mktemp("det") / "data")


def _workspace(tmp_path: Path, dataset: Path) -> Workspace:
    (tmp_path / "ws").mkdir()
    return make_workspace(tmp_path / "ws", dataset)


@pytest.fixture
def cls_workspace(tmp_path, cls_sample) -> Workspace:
    return _workspace(tmp_path, cls_sample)


@pytest.fixture
def seg_workspace(tmp_path, seg_sample) -> Workspace:
    return _workspace(tmp_path, seg_sample)


@pytest.fixture
def det_workspace(tmp_path, det_sample) -> Workspace:
    return _workspace(tmp_path, det_sample)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(case, request, capsys):
    w = request.getfixturevalue(workspace_for(case))
    err = check(case, w, capsys)
    assert SECRET not in err


def test_cases_are_distinct():
    assert len({c.id for c in CASES}) == len(CASES) >= 25


# --- what is accepted: the readers do not over-refuse ----------------------------------------------------

def load(task_name: str, root: Path, split: str = "train"):
    from slimpipe.tasks import get_task

    task = get_task(task_name)
    return task, task.load_split(root, split, (32, 32), task.read_classes(root))


def test_byte_order_marks_are_dropped(det_workspace):
    w = det_workspace
    for name in ("labels.txt", "train_list.txt"):
        path = Path(w.data, name)
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    task, split = load("detection", Path(w.data))
    assert task.read_classes(Path(w.data)) == ["disc", "square", "triangle"]
    assert split.sources[0] == "JPEGImages/0000.jpg" and len(split) == 3


def test_sixteen_bit_image_is_scaled_not_clipped(det_workspace):
    w = det_workspace
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (64, 1))
    save_array(first_file(w), ramp)
    with Image.open(first_file(w)) as img:
        assert img.mode == "I;16"
    _, split = load("detection", Path(w.data))
    row = split.images[0, 16, :, 0].astype(int)
    assert row[0] <= 8 and row[-1] >= 247  # the full 16-bit range spans the 8-bit one
    assert 100 <= row[16] <= 155  # the middle stays grey; clipping would make it 255


def test_links_that_stay_inside_the_dataset_are_followed(seg_workspace):
    w = seg_workspace
    data = Path(w.data)
    (data / "lists").mkdir()
    for name in ("labels.txt", "train_list.txt"):
        shutil.move(data / name, data / "lists" / name)
        (data / name).symlink_to(Path("lists", name))
    os.symlink(data / "images", data / "photos", target_is_directory=True)
    set_line(w, "lists/train_list.txt", 1, "photos/0000.jpg annotations/0000.png")
    task, split = load("segmentation", data)
    assert task.read_classes(data) == ["background", "optic_disc"] and len(split) == 3


def test_one_bit_label_holds_classes_zero_and_one(seg_workspace):
    w = seg_workspace
    width, height = label_size(w)
    mask = np.zeros((height, width), bool)
    mask[: height // 2] = True
    Image.fromarray(mask).save(first_file(w, 1))
    _, split = load("segmentation", Path(w.data))
    assert set(np.unique(split.targets[0])) == {0, 1}
